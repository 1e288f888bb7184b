"""Roles are Django groups with a fixed set of permissions, kept in step at every migrate.

A person's role is the group they are in; pages check permissions, never group names, so an
admin can also hand out single permissions.
"""

from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.db.models import Q

ADMIN = "Admin"
PRODUCT_MANAGER = "Product manager"
SUPPORT_LEAD = "Support lead"

# Everything that can be seen: the dashboards, themes, feedback, runs, drafts, accuracy and
# alerts.
_BROWSE = [
    "insights.view_theme",
    "insights.view_itemsentiment",
    "insights.view_analysisrun",
    "insights.view_evaluationlabel",
    "insights.view_copydraft",
    "insights.view_correction",
    "ingestion.view_feedbackitem",
    "ingestion.view_datasource",
    "alerts.view_alert",
]
_EDIT_AND_GENERATE = [
    "insights.change_theme",
    "insights.change_itemsentiment",
    "insights.add_correction",
    "insights.add_evaluationlabel",
    "insights.add_analysisrun",
    "insights.add_copydraft",
    "insights.change_copydraft",
]

# Reports: everyone reads the archive; support leads make reports and run their schedules.
_READ_REPORTS = ["insights.view_report"]
_MAKE_REPORTS = [
    "insights.add_report",
    "insights.view_reportschedule",
    "insights.add_reportschedule",
    "insights.change_reportschedule",
    "insights.delete_reportschedule",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    SUPPORT_LEAD: _BROWSE + _READ_REPORTS + _MAKE_REPORTS,
    PRODUCT_MANAGER: _BROWSE + _EDIT_AND_GENERATE + _READ_REPORTS,
}
# Admins get every permission of these apps: sources, imports, users, schedules, everything,
# and the sign-in lockouts (axes), which they lift in Django's admin.
ADMIN_APPS = ("ingestion", "insights", "alerts", "auth", "django_celery_beat", "axes")

# The permission that makes a person a user of the dashboards at all (every role has it).
BROWSE_PERMISSION = "insights.view_theme"


def _permissions(names: list[str]) -> list[Permission]:
    condition = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".")
        condition |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(condition))
    if len(found) != len(names):
        missing = set(names) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
        raise LookupError(f"unknown permissions for roles: {sorted(missing)}")
    return found


def ensure_role_groups() -> None:
    """Create the role groups and set their permissions to exactly what ROLE_PERMISSIONS says."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions(names))
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))


def has_role(user: User | AnonymousUser) -> bool:
    """Return whether a signed-in person may use the dashboards at all."""
    return bool(user.is_active and user.has_perm(BROWSE_PERMISSION))
