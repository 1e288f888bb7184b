"""Where connectors may connect, and what they send there.

A source's URL or mail host is typed by an admin, but what it fetches becomes feedback that
every role reads. Pointed at the database, the broker, a cloud metadata address or the app
itself, a connector would read those out, and its errors would tell open, closed and
filtered ports apart. So a connector connects only to public addresses, and to the hosts
and networks that FEEDLENS_CONNECTOR_ALLOWED_HOSTS names (an API on the company's own
network). The check is made on the addresses a name resolves to, when the socket connects:
on every redirect hop, and to the very address checked, so a name cannot resolve to a
public address for the check and to a private one for the connection.

Credentials (the headers an admin configured) go to the origin they were entered for only:
a redirect to another origin carries none of them.
"""

import http.client
import ipaddress
import logging
import socket
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Headers that are no credential: a redirect to another origin keeps these only.
HEADERS_FOR_ANY_ORIGIN = frozenset({"User-agent", "Accept"})


class BlockedDestination(OSError):
    """The host resolves to no address a connector may connect to."""


# IPv6 prefixes that carry an IPv4 address in their last 32 bits, which a router may
# reach: NAT64 (64:ff9b::/96, RFC 6052) and the deprecated IPv4-compatible ::a.b.c.d.
_CARRIES_IPV4 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


def is_public(address: IPAddress) -> bool:
    """Whether the address is on the public internet: not loopback, private, link-local,
    multicast, reserved or shared (carrier-grade NAT), nor an IPv6 form of such an IPv4
    address (mapped, NAT64, 6to4, compatible)."""
    return all(
        candidate.is_global and not candidate.is_multicast
        for candidate in (address, *_embedded_ipv4(address))
    )


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    embedded = [address.ipv4_mapped, address.sixtofour]
    if any(address in network for network in _CARRIES_IPV4):
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [candidate for candidate in embedded if candidate is not None]


def _allowed_by_setting(host: str, address: IPAddress) -> bool:
    for entry in settings.FEEDLENS_CONNECTOR_ALLOWED_HOSTS:
        if entry.lower() == host.lower().rstrip("."):
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a host name, not a network
    return False


def checked_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """Return the getaddrinfo entries of host that a connector may connect to; raise
    BlockedDestination when there are none."""
    entries = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    allowed = []
    for entry in entries:
        address = ipaddress.ip_address(str(entry[4][0]).split("%")[0])
        if is_public(address) or _allowed_by_setting(host, address):
            allowed.append(entry)
    if not allowed:
        raise BlockedDestination(
            f"{host} is a loopback, private, link-local or multicast address, which sources "
            "may not fetch from; an admin can allow it with FEEDLENS_CONNECTOR_ALLOWED_HOSTS"
        )
    return allowed


def open_checked_connection(
    host_and_port: tuple[str, int], timeout: float | None = None, *_: object
) -> socket.socket:
    """Connect to the first address of the host that is allowed (socket.create_connection's
    arguments, which http.client and imaplib pass)."""
    host, port = host_and_port
    error: OSError | None = None
    for family, kind, protocol, _name, address in checked_addresses(host, port):
        sock = socket.socket(family, kind, protocol)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError as failed:
            sock.close()
            error = failed
            continue
        return sock
    raise error or OSError(f"no address of {host} answered")


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = open_checked_connection


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = open_checked_connection


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_CheckedHTTPConnection, req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_CheckedHTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


def origin(url: str) -> tuple[str, str, int | None]:
    """Return the scheme, host and port a URL's requests go to."""
    parts = urllib.parse.urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default_port


class _CredentialsStayHome(urllib.request.HTTPRedirectHandler):
    """Follow redirects, leaving the configured headers behind when the origin changes."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            # urllib would follow ftp: too, through ftplib's unchecked sockets.
            raise BlockedDestination(f"a redirect to {newurl}, which is not http or https")
        follow = super().redirect_request(req, fp, code, msg, headers, newurl)
        if follow is not None and origin(newurl) != origin(req.full_url):
            for name in list(follow.headers):
                if name not in HEADERS_FOR_ANY_ORIGIN:
                    follow.remove_header(name)
        return follow


def opener() -> urllib.request.OpenerDirector:
    """Return the opener connectors fetch with: checked addresses, credentials kept to
    their origin, and no proxy from the environment (the check must see the address
    connected to)."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _CheckedHTTPHandler(),
        _CheckedHTTPSHandler(),
        _CredentialsStayHome(),
    )
