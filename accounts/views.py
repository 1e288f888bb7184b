"""The admin area's landing page, the people page (invite, role, deactivate), the page
where an invited person sets their password, and the throttled sign-in and reset pages."""

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import User
from django.contrib.auth.views import PasswordResetConfirmView, PasswordResetView
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from accounts import people, roles, throttle
from accounts.forms import InviteForm, RoleForm
from accounts.models import MailKind
from feedlens.access import role_required

logger = logging.getLogger(__name__)

# Either is enough to need the admin area: the Admin role has both.
ADMIN_AREA_PERMISSIONS = ("auth.change_user", "ingestion.change_datasource")


@role_required()
def admin_area(request: HttpRequest) -> HttpResponse:
    if not any(request.user.has_perm(name) for name in ADMIN_AREA_PERMISSIONS):
        raise PermissionDenied
    return render(request, "accounts/admin_area.html")


@role_required("auth.change_user")
def people_list(request: HttpRequest) -> HttpResponse:
    return _people_page(request, InviteForm())


def _people_page(request: HttpRequest, invite_form: InviteForm, status: int = 200) -> HttpResponse:
    rows = [_person_row(person) for person in people.people()]
    context = {"rows": rows, "invite_form": invite_form, "can_invite": _can_invite(request)}
    return render(request, "accounts/people_list.html", context, status=status)


def _person_row(person: User) -> dict[str, Any]:
    # role_groups: prefetched by people.people().
    roles = [group.name for group in person.role_groups]  # type: ignore[attr-defined]
    initial = {"role": (roles or [""])[0]}
    role_form = RoleForm(initial=initial, auto_id=f"person-{person.pk}-%s")
    return {"person": person, "roles": roles, "role_form": role_form}


def _can_invite(request: HttpRequest) -> bool:
    return request.user.has_perm("auth.add_user")


@role_required("auth.add_user")
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    """Invite a person and show the link to set their password, which the email also
    carries (installations without email pass it on by hand)."""
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _people_page(request, form, status=400)
    data = form.cleaned_data
    try:
        invitation = people.invite_user(data["email"], data["name"], data["role"], _site(request))
    except people.PeopleError as error:
        form.add_error(None, str(error))
        return _people_page(request, form, status=400)
    return render(request, "accounts/people_invited.html", {"invitation": invitation})


@role_required("auth.add_user")
@require_POST
def reinvite(request: HttpRequest, user_id: int) -> HttpResponse:
    """Send a person who has not set a password yet a new link (the old one may have
    expired or gone astray)."""
    person = get_object_or_404(User, pk=user_id)
    try:
        invitation = people.send_invitation(person, _site(request))
    except people.PeopleError as error:
        messages.error(request, str(error))
        return redirect("accounts:people")
    return render(request, "accounts/people_invited.html", {"invitation": invitation})


def _site(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


@role_required("auth.change_user")
@require_POST
def change_role(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, pk=user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["role"]))
        return redirect("accounts:people")
    role = form.cleaned_data["role"] or None
    done = f"{person.username} is now {_role_phrase(role)}."
    _change(request, done, people.set_role, person, role)
    return redirect("accounts:people")


def _role_phrase(role: str | None) -> str:
    return f"a{'n' if role == roles.ADMIN else ''} {role.lower()}" if role else "without a role"


@role_required("auth.change_user")
@require_POST
def deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, pk=user_id)
    done = f"{person.username} can no longer sign in."
    _change(request, done, people.deactivate, person, request.user)
    return redirect("accounts:people")


@role_required("auth.change_user")
@require_POST
def reactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, pk=user_id)
    _change(request, f"{person.username} can sign in again.", people.reactivate, person)
    return redirect("accounts:people")


def _change(request: HttpRequest, done: str, change: Any, *args: object) -> None:
    """Make the change and say how it went."""
    try:
        change(*args)
    except people.PeopleError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done)


class SetPasswordView(PasswordResetConfirmView):
    """The one-time page behind an invitation or password reset link: the person chooses a
    password and is signed in."""

    post_reset_login = True
    # The backend that checked the password; django-axes' only guards sign-in forms.
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("insights:overview")
    template_name = "registration/password_set.html"

    def get_user(self, uidb64: str) -> User | None:
        # A person deactivated after the link went out must not get back in through it.
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None


class ThrottledPasswordResetView(PasswordResetView):
    """Django's reset page, sending at most FEEDLENS_RESET_MAILS_PER_ADDRESS mails an hour to
    one address and FEEDLENS_RESET_MAILS_PER_CLIENT to one client address. Over a limit it
    answers as when it sends, as it does for an unknown address: the page never tells
    whether an address has an account."""

    email_template_name = "registration/password_reset_email.txt"

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        email = form.cleaned_data["email"]
        client = throttle.client_address(self.request)
        kind = MailKind.PASSWORD_RESET
        if (
            throttle.sent_this_hour(kind, recipient=email)
            >= settings.FEEDLENS_RESET_MAILS_PER_ADDRESS
            or throttle.sent_this_hour(kind, client=client)
            >= settings.FEEDLENS_RESET_MAILS_PER_CLIENT
        ):
            logger.warning("password reset for %s from %s refused: over the limit", email, client)
            return HttpResponseRedirect(self.get_success_url())
        throttle.record_sent(kind, email, client)
        return super().form_valid(form)


def locked_out(request: HttpRequest, response: object, credentials: dict[str, Any]) -> HttpResponse:
    """django-axes' answer to a sign-in while it is paused (settings.AXES_LOCKOUT_CALLABLE)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"username": (credentials or {}).get("username", ""), "minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)
