"""The one gate in front of every dashboard page: signed in, has a role, has the permission."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import BROWSE_PERMISSION, has_role

View = Callable[..., HttpResponse]


def role_required(permission: str = BROWSE_PERMISSION) -> Callable[[View], View]:
    """Let through signed-in people with a role and the given permission; people without a
    role get a page that says so (403), people with a role but not this permission a 403."""

    def decorator(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if not has_role(request.user):
                return render(request, "no_role.html", status=403)
            if not request.user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(checked)

    return decorator
