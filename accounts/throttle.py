"""Limits on the mail that anyone can make Feedlens send: password resets (any visitor may
ask for one) and invitations. Each mail sent is recorded (accounts.models.SentMail); a limit
counts those of the last hour to one address, or asked for from one client address. Sign-ins
are limited by django-axes (settings.AXES_*)."""

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import SentMail

WINDOW = timedelta(hours=1)
# Older records serve no limit; they are deleted as new ones come.
KEPT_FOR = timedelta(days=1)


def client_address(request: HttpRequest) -> str | None:
    """Return the address the request came from, for these limits and django-axes'
    (settings.AXES_CLIENT_IP_CALLABLE). Behind FEEDLENS_TRUSTED_PROXIES proxies it is the
    one the outermost of them saw: each appends its client to X-Forwarded-For, so it stands
    that many places from the end (what a client writes there itself comes before)."""
    proxies = settings.FEEDLENS_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if proxies and len(forwarded) >= proxies:
        candidate = forwarded[-proxies].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass  # not an address a proxy writes: fall back to the connection's
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
