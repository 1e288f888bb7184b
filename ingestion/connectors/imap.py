"""An IMAP mailbox of support e-mail: each message in a folder is an item (subject = title,
sender = author, plain-text body = text). The cursor is the highest UID stored, with the
folder's UIDVALIDITY: when the server renumbers the folder, the sync reads it again from the
start, and the Message-IDs keep it from storing any message twice."""

import email
import email.policy
import imaplib
import re
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import ClassVar, Literal

from django import forms
from django.utils.html import strip_tags
from pydantic import BaseModel, ConfigDict, Field

from ingestion.connectors.base import (
    HTTP_TIMEOUT_S,
    Connector,
    ConnectorError,
    Cursor,
    Page,
    connection_error,
)
from ingestion.connectors.network import open_checked_connection
from ingestion.importers import RawRecord
from ingestion.models import SourceKind
from ingestion.normalise import ColumnMapping
from ingestion.source_forms import PollingSourceForm, secret_field

IMAP_MAPPING = ColumnMapping(
    text="text",
    created_at="created_at",
    external_id="id",
    title="title",
    author="author",
    metadata=("uid",),
)
# Messages fetched (and stored, with the cursor) together: a support mail is a few KB.
MESSAGES_PER_PAGE = 50
_FETCHED_UID = re.compile(rb"UID (\d+)")


class ImapConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(default=993, ge=1, le=65535)
    # "plain" is for servers on a private network (and the tests): the password goes in clear.
    security: Literal["ssl", "starttls", "plain"] = "ssl"
    username: str = Field(min_length=1)
    password: str = ""
    folder: str = "INBOX"


class ImapConnector(Connector[ImapConfig]):
    kind: ClassVar[str] = SourceKind.IMAP
    config_schema = ImapConfig
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    def mapping(self, config: ImapConfig) -> ColumnMapping:
        return IMAP_MAPPING

    def secret_destination(self, config: dict[str, object]) -> object:
        return str(config.get("host", "")).lower().rstrip(".")

    def fetch(self, config: ImapConfig, cursor: Cursor) -> Iterator[Page]:
        try:
            with _open(config) as mailbox:
                yield from _pages(mailbox, config, cursor)
        except imaplib.IMAP4.error as error:  # the server answered: a refused login, a bad folder
            raise ConnectorError(f"IMAP {config.host}:{config.port}: {error}") from error
        except OSError as error:
            raise connection_error(f"IMAP {config.host}", error) from error


class _CheckedIMAP4(imaplib.IMAP4):
    """IMAP to an address a connector may reach (ingestion.connectors.network)."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return open_checked_connection((self.host, self.port), timeout)


class _CheckedIMAP4_SSL(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = open_checked_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def _open(config: ImapConfig) -> imaplib.IMAP4:
    if config.security == "ssl":
        mailbox: imaplib.IMAP4 = _CheckedIMAP4_SSL(config.host, config.port, timeout=HTTP_TIMEOUT_S)
    else:
        mailbox = _CheckedIMAP4(config.host, config.port, timeout=HTTP_TIMEOUT_S)
        if config.security == "starttls":
            mailbox.starttls()
    mailbox.login(config.username, config.password)
    return mailbox


def _pages(mailbox: imaplib.IMAP4, config: ImapConfig, cursor: Cursor) -> Iterator[Page]:
    status, _ = mailbox.select(_quoted(config.folder), readonly=True)  # readonly: leave \Seen
    if status != "OK":
        raise ConnectorError(f"the folder {config.folder!r} cannot be opened")
    validity = int(mailbox.response("UIDVALIDITY")[1][0] or 0)
    last_uid = int(str(cursor.get("last_uid", 0))) if cursor.get("uidvalidity") == validity else 0
    uids = _uids_after(mailbox, last_uid)
    for start in range(0, len(uids), MESSAGES_PER_PAGE):
        chunk = uids[start : start + MESSAGES_PER_PAGE]
        records = _fetch_messages(mailbox, chunk, validity)
        yield Page(records, {"uidvalidity": validity, "last_uid": chunk[-1]})


def _uids_after(mailbox: imaplib.IMAP4, last_uid: int) -> list[int]:
    status, data = mailbox.uid("SEARCH", "UID", f"{last_uid + 1}:*")
    if status != "OK":
        raise ConnectorError(f"UID SEARCH failed: {data!r}")
    # "N:*" always matches the highest UID, even one below N: keep only the new ones.
    return sorted(uid for uid in map(int, (data[0] or b"").split()) if uid > last_uid)


def _fetch_messages(mailbox: imaplib.IMAP4, uids: list[int], validity: int) -> list[RawRecord]:
    status, data = mailbox.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    if status != "OK":
        raise ConnectorError(f"UID FETCH failed: {data!r}")
    records = []
    for part in data:
        if not isinstance(part, tuple):
            continue  # the ")" closing each message
        match = _FETCHED_UID.search(part[0])
        uid = int(match.group(1)) if match else 0
        records.append(RawRecord(f"message UID {uid}", _message_fields(part[1], uid, validity)))
    return records


def _message_fields(raw: bytes, uid: int, validity: int) -> dict[str, object]:
    # policy.default makes an EmailMessage, which has get_body.
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return {
        "id": str(message["Message-ID"] or f"imap:{validity}:{uid}").strip(),
        "text": _plain_text(message),
        "title": str(message["Subject"] or ""),
        "author": str(message["From"] or ""),
        "created_at": _date(str(message["Date"] or "")),
        "uid": uid,
    }


def _plain_text(message: EmailMessage) -> str:
    """Return the plain-text body, or the HTML body without its markup when there is none."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, UnicodeError):  # an unknown or wrong charset
        payload = body.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return strip_tags(content) if body.get_content_type() == "text/html" else content


def _date(value: str) -> str | None:
    try:
        return parsedate_to_datetime(value).isoformat() if value else None
    except (TypeError, ValueError):
        return None  # an unreadable Date header: the item keeps no date rather than fail


def _quoted(folder: str) -> str:
    """Quote a folder name for IMAP ("Support Inbox" has a space)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- the form that configures a source of this kind ------------------------------------


class ImapSourceForm(PollingSourceForm):
    connector = ImapConnector()
    required_secrets = ("password",)
    FIELDS = ("host", "port", "security", "username", "folder")

    host = forms.CharField(max_length=255)
    port = forms.IntegerField(min_value=1, max_value=65535, initial=993)
    security = forms.ChoiceField(
        choices=[
            ("ssl", "SSL/TLS (port 993)"),
            ("starttls", "STARTTLS (port 143)"),
            ("plain", "None: private networks only"),
        ]
    )
    username = forms.CharField(max_length=255)
    password = secret_field("Password")
    folder = forms.CharField(max_length=255, initial="INBOX")

    def config_data(self) -> dict[str, object]:
        return {name: self.cleaned_data[name] for name in (*self.FIELDS, "password")}

    def initial_from_config(self, config: dict[str, object]) -> dict[str, object]:
        return {name: config[name] for name in self.FIELDS if name in config}
