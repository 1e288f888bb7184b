"""People who use Feedlens: invite them, give them a role, deactivate them.

An invited person gets an account with no usable password and a one-time link (Django's
default_token_generator, the same as a password reset) to choose one. Their role is the one
role group they are in (see accounts.roles). Every change keeps at least one active admin, so
nobody can lock the whole installation out of its administration.
"""

import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import roles, throttle
from accounts.models import MailKind

ROLE_NAMES = (roles.ADMIN, roles.PRODUCT_MANAGER, roles.SUPPORT_LEAD)
INVITATION_SUBJECT = "You are invited to Feedlens"


def signed_in_person(user: object) -> User | None:
    """Return the person behind a request's user, None for an anonymous visitor or no user:
    what the "made by" columns (created_by, corrected_by...) store."""
    return user if isinstance(user, User) and user.is_authenticated else None


class PeopleError(Exception):
    """A change to a person that cannot be made; the message tells the admin why."""


@dataclass(frozen=True)
class Invitation:
    user: User
    link: str
    # Empty when the email went out; otherwise why it did not (the admin passes the link on).
    send_error: str

    @property
    def valid_days(self) -> int:
        """Return for how many days the link works (unless the password is set first)."""
        return settings.PASSWORD_RESET_TIMEOUT // 86400


def people() -> QuerySet[User]:
    """Return every account, active ones first, each with `role_groups`: its role groups
    (one, or none; more only if someone set groups by hand in the Django admin)."""
    role_groups = Group.objects.filter(name__in=ROLE_NAMES).order_by("name")
    return User.objects.prefetch_related(
        Prefetch("groups", queryset=role_groups, to_attr="role_groups")
    ).order_by("-is_active", "username")


def invite_user(email: str, name: str, role: str, site_url: str) -> Invitation:
    """Create an account for email (its user name) in role, with no password yet, and email
    it a link to set one; return the invitation with the link, which the admin also sees."""
    email = _valid_email(email)
    _check_role(role)
    if User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
        raise PeopleError(f"{email} already has an account.")
    try:
        with transaction.atomic():
            # The whole name goes in first_name: people's names do not split reliably.
            user = User(username=email, email=email, first_name=name.strip()[:150])
            user.set_unusable_password()
            user.is_staff = role == roles.ADMIN
            user.save()
            user.groups.add(Group.objects.get(name=role))
    except IntegrityError as error:  # the same email invited twice at once
        raise PeopleError(f"{email} already has an account.") from error
    return send_invitation(user, site_url)


def send_invitation(user: User, site_url: str) -> Invitation:
    """Email the person a new link to set their password; return it with the sending error,
    if any (a missing mail server must not lose the invitation). At most
    FEEDLENS_INVITATIONS_PER_ADDRESS an hour go to one address."""
    if user.has_usable_password():
        raise PeopleError(f"{user.username} has already set a password.")
    limit = settings.FEEDLENS_INVITATIONS_PER_ADDRESS
    if throttle.sent_this_hour(MailKind.INVITATION, recipient=user.email) >= limit:
        raise PeopleError(
            f"{user.email} was sent {limit} invitations in the last hour: wait before "
            "sending another."
        )
    throttle.record_sent(MailKind.INVITATION, user.email, client=None)
    link = site_url.rstrip("/") + set_password_path(user)
    invitation = Invitation(user, link, send_error="")
    body = render_to_string("accounts/people_invitation_email.txt", {"invitation": invitation})
    try:
        send_mail(INVITATION_SUBJECT, body, None, [user.email])
    except (smtplib.SMTPException, OSError) as error:
        return Invitation(user, link, send_error=str(error) or type(error).__name__)
    return invitation


def set_password_path(user: User) -> str:
    """Return the path of the one-time page where the person sets a password; it stops
    working once they have (the token depends on the password) or after
    PASSWORD_RESET_TIMEOUT."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("password_reset_confirm", args=[uid, token])


def set_role(user: User, role: str | None) -> User:
    """Put the person in exactly this role group (None: in none, which leaves them the
    no-role page); groups that are not roles stay. Return the person."""
    if role is not None:
        _check_role(role)
    with transaction.atomic():
        if role != roles.ADMIN and not user.is_superuser:  # a superuser stays an admin
            _keep_another_admin(user, "take the admin role from")
        user.groups.remove(*Group.objects.filter(name__in=ROLE_NAMES).exclude(name=role))
        if role is not None:
            user.groups.add(Group.objects.get(name=role))
        # Admins use Django's admin too (the Admin group holds its permissions).
        user.is_staff = role == roles.ADMIN or user.is_superuser
        user.save(update_fields=["is_staff"])
    return user


def deactivate(user: User, by: User) -> User:
    """Stop the person from signing in (their sessions stop working at the next request:
    Django's ModelBackend refuses inactive users); return them."""
    if user.pk == by.pk:
        raise PeopleError("You cannot deactivate yourself.")
    if user.is_superuser and not by.is_superuser:
        raise PeopleError(f"Only a superuser can deactivate {user.username}, a superuser.")
    with transaction.atomic():
        _keep_another_admin(user, "deactivate")
        user.is_active = False
        update = ["is_active"]
        if not user.has_usable_password():
            # A new unusable password changes what the invitation's token was made from:
            # the link sent before stops working, and reactivating does not revive it.
            user.set_unusable_password()
            update.append("password")
        user.save(update_fields=update)
    return user


def reactivate(user: User) -> User:
    """Let a deactivated person sign in again; return them."""
    user.is_active = True
    user.save(update_fields=["is_active"])
    return user


def active_admins() -> QuerySet[User]:
    """Return the active people who can administer Feedlens: superusers and the Admin role."""
    admins = Q(is_superuser=True) | Q(groups__name=roles.ADMIN)
    return User.objects.filter(admins, is_active=True).distinct()


def _keep_another_admin(user: User, action: str) -> None:
    """Refuse to remove user's admin powers when they are the only active admin (call inside
    a transaction)."""
    # Two admins deactivating each other at once would each still see the other: every
    # change that can remove an admin first locks the Admin group row, so they take turns.
    Group.objects.select_for_update().get(name=roles.ADMIN)
    admins = active_admins()
    if not admins.exclude(pk=user.pk).exists() and admins.filter(pk=user.pk).exists():
        raise PeopleError(f"You cannot {action} the last active admin.")


def _check_role(role: str) -> None:
    if role not in ROLE_NAMES:
        raise PeopleError(f"“{role}” is not a role; the roles are {', '.join(ROLE_NAMES)}.")


def _valid_email(email: str) -> str:
    email = BaseUserManager.normalize_email(email.strip())
    try:
        validate_email(email)
    except ValidationError as error:
        raise PeopleError(f"“{email}” is not an email address.") from error
    if len(email) > 150:  # it is also the user name, which holds 150 characters
        raise PeopleError("An email address of at most 150 characters, please.")
    return email
