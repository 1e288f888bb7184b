"""The connector tests' servers run on 127.0.0.1, which sources may only fetch from when
FEEDLENS_CONNECTOR_ALLOWED_HOSTS names it, as it would an API on the company's network."""

import pytest

LOCAL_SERVERS_HOST = "127.0.0.1"


@pytest.fixture(autouse=True)
def local_servers_allowed(settings: object) -> None:
    settings.FEEDLENS_CONNECTOR_ALLOWED_HOSTS = [LOCAL_SERVERS_HOST]  # type: ignore[attr-defined]
