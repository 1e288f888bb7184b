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
    (settings.AXES_CLIENT_IP_CALLABLE): the connection's, or, for a request from a proxy
    that FEEDLENS_TRUSTED_PROXIES names, the address that the outermost trusted proxy saw.
    Each proxy appends its client to X-Forwarded-For, so that is the last entry that is no
    trusted proxy itself; whatever a client wrote there comes before and is not read."""
    connected = request.META.get("REMOTE_ADDR") or None
    if not _is_trusted_proxy(connected):
        return connected
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for entry in reversed([part.strip() for part in forwarded if part.strip()]):
        if not _is_trusted_proxy(entry):
            return entry if _is_address(entry) else connected
    return connected


def _is_trusted_proxy(address: str | None) -> bool:
    if not address or not _is_address(address):
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in _trusted_networks())


def _trusted_networks() -> list[str]:
    return [entry for entry in settings.FEEDLENS_TRUSTED_PROXIES if entry.strip()]


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


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
