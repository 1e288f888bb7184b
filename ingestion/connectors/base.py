"""What every polling connector is: a config schema, a column mapping and fetch(config, cursor).

A connector yields pages; each page carries its records and the cursor to resume after it.
ingestion.sync stores a page's items and its cursor in one transaction, so a sync that
fails half-way resumes after the last page it stored: nothing is read twice or skipped.
Adding a kind takes one module and a migration:
1. ingestion/connectors/<kind>.py, copied from a sibling (rest.py, rss.py, imap.py): the
   config schema (pydantic), the Connector subclass, and the PollingSourceForm subclass
   (ingestion.source_forms) whose `connector` is an instance of it;
2. that form added to POLLING_FORMS in ingestion/connectors/__init__.py, the one registry
   that the source pages, the sync and the scheduler read;
3. the kind's value in SourceKind (ingestion/models.py) and the migration that
   `manage.py makemigrations ingestion` writes for its choices.
"""

import http.client
import logging
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ingestion.connectors.network import BlockedDestination, opener
from ingestion.importers import RawRecord
from ingestion.normalise import ColumnMapping, describe_mapping_error
from ingestion.secrets import decrypt_secret, encrypt_secret

logger = logging.getLogger(__name__)

# A server that takes longer than this to answer is treated as down; the sync backs off.
HTTP_TIMEOUT_S = 30
# One response larger than this is refused rather than read into memory.
MAX_RESPONSE_BYTES = 20 * 1024 * 1024
USER_AGENT = "Feedlens connector (+https://github.com/feedlens)"

Cursor = dict[str, object]
ConfigT = TypeVar("ConfigT", bound=BaseModel)


class ConnectorError(Exception):
    """A sync cannot go on: the server is unreachable, refuses, or sends what cannot be read."""


class SecretNotCarried(Exception):
    """A secret was left blank (keep the stored one) on a config that now sends it elsewhere."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(
            "Enter it again: the source now connects to another host, and a stored secret "
            "is only sent to the host it was entered for."
        )


@dataclass
class Page:
    """Records fetched together, and the cursor from which the next page is fetched."""

    records: list[RawRecord]
    cursor: Cursor


class Connector(ABC, Generic[ConfigT]):
    """One kind of polling source. Subclasses name their schema and which fields are secret."""

    kind: ClassVar[str]
    config_schema: type[ConfigT]
    # Config fields stored encrypted (ingestion.secrets) and never shown back.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def load_config(self, stored: dict[str, object]) -> ConfigT:
        """Return the validated config with its secrets decrypted, for a sync only.

        Raises ConnectorError for a config that does not validate, SecretKeyError for a
        secret the key cannot decrypt."""
        plain = dict(stored)
        for name in self.secret_fields:
            if plain.get(name):
                plain[name] = decrypt_secret(plain[name], name.replace("_", " "))
        try:
            return self.config_schema.model_validate(plain)
        except ValidationError as error:
            message = describe_mapping_error(error)
            raise ConnectorError(f"the configuration is invalid: {message}") from error

    def config_to_store(self, config: ConfigT, previous: dict[str, object]) -> dict[str, object]:
        """Return config as saved in DataSource.config: secrets encrypted, and a secret left
        blank keeping the one stored before, as long as it is sent where it was before.

        Raises SecretNotCarried for a secret left blank when its destination changed: a
        password typed for one server is never sent to another on someone else's edit."""
        stored = config.model_dump(mode="json")
        for name in self.secret_fields:
            if stored.get(name):
                stored[name] = encrypt_secret(stored[name])
            elif not previous.get(name):
                stored.pop(name, None)
            elif self.secret_destination(previous) != self.secret_destination(stored):
                raise SecretNotCarried(name)
            else:
                stored[name] = previous[name]
        return stored

    def secret_destination(self, config: dict[str, object]) -> object:
        """Return where a stored config's secrets are sent (an origin, a host)."""
        return None

    @abstractmethod
    def mapping(self, config: ConfigT) -> ColumnMapping:
        """Return how this connector's records map to items."""

    @abstractmethod
    def fetch(self, config: ConfigT, cursor: Cursor) -> Iterator[Page]:
        """Yield pages from the cursor on; raise ConnectorError when the source fails."""


def http_get(url: str, headers: dict[str, str] | None = None) -> bytes:
    """Return the body of a GET; ConnectorError for an error status, a timeout or no answer.

    Fetched through ingestion.connectors.network: public addresses (or allowed hosts) only,
    on every redirect, and the headers given never leave the URL's origin."""
    # The config schemas accept http and https URLs only (http_url), never file: or ftp:.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    try:
        with opener().open(request, timeout=HTTP_TIMEOUT_S) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise ConnectorError(f"{url} answered {error.code} {error.reason}") from error
    # HTTPException: the server closed or garbled the answer part-way (IncompleteRead).
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise connection_error(url, getattr(error, "reason", error)) from error
    if len(body) > MAX_RESPONSE_BYTES:
        raise ConnectorError(f"{url} sent more than {MAX_RESPONSE_BYTES // (1024 * 1024)} MB")
    return body


def connection_error(where: str, reason: object) -> ConnectorError:
    """Return the error a sync records when it could not talk to where. Refused, reset and
    timed out read the same ("could not connect"), so that a source's last error cannot
    be used to scan ports; the reason goes to the worker's log."""
    if isinstance(reason, BlockedDestination):
        return ConnectorError(f"could not connect to {where}: {reason}")
    logger.warning("could not connect to %s: %s", where, reason)
    return ConnectorError(f"could not connect to {where}")


def http_url(value: str) -> str:
    """Validate a URL a connector fetches: http or https only (no file:, no ftp:)."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value
