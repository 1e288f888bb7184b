"""Django's admin for people, with the people page's rules: an admin who is not a superuser
cannot make anyone a superuser or staff, hand out single permissions, change roles or
sign-in state there (the people page does that, keeping an active admin), nor change or
delete a superuser."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import HttpRequest

# What only a superuser changes in Django's admin; the people page sets the rest.
SUPERUSER_FIELDS = ("is_superuser", "is_staff", "is_active", "groups", "user_permissions")


class PeopleAdmin(UserAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else (*fields, *SUPERUSER_FIELDS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_touch(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_touch(request, obj) and super().has_delete_permission(request, obj)

    @staticmethod
    def _may_touch(request: HttpRequest, obj: Any) -> bool:
        return obj is None or not obj.is_superuser or request.user.is_superuser


admin.site.unregister(User)
admin.site.register(User, PeopleAdmin)
