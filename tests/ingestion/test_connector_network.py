"""Where sources may fetch from (ingestion.connectors.network): public addresses, and the
hosts FEEDLENS_CONNECTOR_ALLOWED_HOSTS names; never the app's own services. Credentials stay
with their origin, a changed host asks for its secret again, and connection errors do not
tell ports apart. The servers are real, on 127.0.0.1."""

import ipaddress
import json
from collections.abc import Iterator

import pytest

from ingestion.connectors import connector_for
from ingestion.connectors.base import SecretNotCarried
from ingestion.connectors.imap import ImapConfig
from ingestion.connectors.network import is_public
from ingestion.connectors.rest import RestConfig
from ingestion.models import DataSource, SourceKind, SyncStatus
from ingestion.normalise import ColumnMapping
from ingestion.secrets import decrypt_secret
from ingestion.sync import sync_source
from tests.ingestion.local_servers import (
    LocalHttpServer,
    free_port,
    http_server,
    json_answer,
    redirect_answer,
)

pytestmark = pytest.mark.django_db

MAPPING = ColumnMapping(text="body", external_id="id")
ONE_REVIEW = json.dumps([{"id": "r1", "body": "The export works again, thank you"}])
TOKEN = "token-0123456789-abcd"


@pytest.fixture(autouse=True)
def secrets_key(settings: object) -> None:
    settings.FEEDLENS_SECRETS_KEY = "network-tests-key"  # type: ignore[attr-defined]


@pytest.fixture
def nothing_allowed(settings: object) -> None:
    settings.FEEDLENS_CONNECTOR_ALLOWED_HOSTS = []  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with http_server() as running:
        yield running


def rest_source(url: str, **config: object) -> DataSource:
    stored = connector_for(SourceKind.REST).config_to_store(
        RestConfig(url=url, mapping=MAPPING, **config), {}
    )
    return DataSource.objects.create(name="Reviews API", kind=SourceKind.REST, config=stored)


def last_error(source: DataSource) -> str:
    source.refresh_from_db()
    return source.last_error


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback: Redis, PostgreSQL, the app itself
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.20",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "224.0.0.251",  # multicast
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "::1",
        "fe80::1",
        "fd00::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # loopback written as IPv6
        "64:ff9b::a9fe:a9fe",  # the metadata address through NAT64
        "2002:7f00:1::",  # 127.0.0.1 as 6to4
        "::7f00:1",  # 127.0.0.1 as a compatible address
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_source_cannot_fetch_from_a_loopback_host_by_address_or_by_name(
    nothing_allowed: None, server: LocalHttpServer, host: str
) -> None:
    server.routes["/reviews"] = lambda query, headers: json_answer(ONE_REVIEW)
    source = rest_source(f"http://{host}:{server.port}/reviews")
    assert sync_source(source.pk).status == SyncStatus.FAILED
    assert server.requests == []
    assert "loopback, private, link-local or multicast" in last_error(source)
    assert "FEEDLENS_CONNECTOR_ALLOWED_HOSTS" in last_error(source)


def test_a_host_named_in_the_setting_may_be_fetched(
    settings: object, server: LocalHttpServer
) -> None:
    settings.FEEDLENS_CONNECTOR_ALLOWED_HOSTS = ["localhost"]  # type: ignore[attr-defined]
    server.routes["/reviews"] = lambda query, headers: json_answer(ONE_REVIEW)
    source = rest_source(f"http://localhost:{server.port}/reviews")
    assert sync_source(source.pk).created == 1


def test_every_redirect_hop_is_checked(settings: object, server: LocalHttpServer) -> None:
    # localhost is allowed by name; the hop to 127.0.0.1 (the same machine, unnamed) is not.
    settings.FEEDLENS_CONNECTOR_ALLOWED_HOSTS = ["localhost"]  # type: ignore[attr-defined]
    server.routes["/moved"] = lambda query, headers: redirect_answer(server.url("/internal"))
    server.routes["/internal"] = lambda query, headers: json_answer(ONE_REVIEW)
    source = rest_source(f"http://localhost:{server.port}/moved")
    assert sync_source(source.pk).status == SyncStatus.FAILED
    assert [path for path, _, _ in server.requests] == ["/moved"]
    assert "may not fetch from" in last_error(source)


def test_a_redirect_to_another_scheme_is_not_followed(
    settings: object, server: LocalHttpServer
) -> None:
    settings.FEEDLENS_CONNECTOR_ALLOWED_HOSTS = ["127.0.0.1"]  # type: ignore[attr-defined]
    server.routes["/moved"] = lambda query, headers: redirect_answer("ftp://127.0.0.2/x")
    source = rest_source(server.url("/moved"))
    assert sync_source(source.pk).status == SyncStatus.FAILED
    assert "not http or https" in last_error(source)


def test_credentials_follow_a_redirect_on_their_origin_only(
    settings: object, server: LocalHttpServer
) -> None:
    settings.FEEDLENS_CONNECTOR_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]  # type: ignore[attr-defined]
    elsewhere = f"http://localhost:{server.port}/elsewhere"
    server.routes["/start"] = lambda query, headers: redirect_answer(server.url("/same"))
    server.routes["/same"] = lambda query, headers: redirect_answer(elsewhere)
    server.routes["/elsewhere"] = lambda query, headers: json_answer(ONE_REVIEW)
    source = rest_source(
        server.url("/start"), auth_header_name="Authorization", auth_header_value=TOKEN
    )
    assert sync_source(source.pk).created == 1
    sent = {path: headers for path, _, headers in server.requests}
    assert sent["/start"]["Authorization"] == TOKEN
    assert sent["/same"]["Authorization"] == TOKEN
    assert "Authorization" not in sent["/elsewhere"]
    assert sent["/elsewhere"]["Accept"] == "application/json"


def test_a_closed_port_reads_as_could_not_connect_without_detail() -> None:
    url = f"http://127.0.0.1:{free_port()}/reviews"
    source = rest_source(url)
    assert sync_source(source.pk).status == SyncStatus.FAILED
    assert last_error(source) == f"could not connect to {url}"


def test_an_imap_source_cannot_reach_a_loopback_host(nothing_allowed: None) -> None:
    config = ImapConfig(host="127.0.0.1", port=free_port(), username="u", password="p")
    connector = connector_for(SourceKind.IMAP)
    stored = connector.config_to_store(config, {})
    source = DataSource.objects.create(name="Mail", kind=SourceKind.IMAP, config=stored)
    assert sync_source(source.pk).status == SyncStatus.FAILED
    assert "may not fetch from" in last_error(source)


def test_a_secret_left_blank_is_not_carried_to_another_host() -> None:
    connector = connector_for(SourceKind.REST)
    first = RestConfig(
        url="https://api.example.com/v1/reviews",
        mapping=MAPPING,
        auth_header_name="Authorization",
        auth_header_value=TOKEN,
    )
    stored = connector.config_to_store(first, {})
    same_host = first.model_copy(update={"url": "https://api.example.com/v2/reviews"})
    same_host.auth_header_value = ""
    kept = connector.config_to_store(same_host, stored)
    assert decrypt_secret(kept["auth_header_value"]) == TOKEN
    for elsewhere in ("https://collector.example.net/v1/reviews", "http://api.example.com/v1"):
        moved = same_host.model_copy(update={"url": elsewhere})
        with pytest.raises(SecretNotCarried):
            connector.config_to_store(moved, stored)
