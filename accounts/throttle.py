"""Limits on the mail that anyone can make Feedlens send: password resets (any visitor may
ask for one) and invitations. Each mail sent is recorded (accounts.models.SentMail); a limit
counts those of the last hour to one address, or asked for from one client address. Sign-ins
are limited by django-axes (settings.AXES_*)."""

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

from accounts.models import SentMail

WINDOW = timedelta(hours=1)
# Older records serve no limit; they are deleted as new ones come.
KEPT_FOR = timedelta(days=1)


def client_address(request: HttpRequest) -> str | None:
    """Return the address the request came from (REMOTE_ADDR, which django-axes reads too)."""
    return request.META.get("REMOTE_ADDR") or None


def sent_this_hour(kind: str, *, recipient: str = "", client: str | None = None) -> int:
    """Return how many mails of kind went to recipient, or were asked for from client, in
    the last hour."""
    recent = SentMail.objects.filter(kind=kind, sent_at__gte=timezone.now() - WINDOW)
    if recipient:
        return recent.filter(recipient__iexact=recipient).count()
    return recent.filter(client_address=client).count() if client else 0


def record_sent(kind: str, recipient: str, client: str | None) -> None:
    now = timezone.now()
    SentMail.objects.filter(sent_at__lt=now - KEPT_FOR).delete()
    SentMail.objects.create(kind=kind, recipient=recipient, client_address=client, sent_at=now)
