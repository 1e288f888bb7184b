"""A generic JSON/REST endpoint: a list of items at a dotted path, paged by cursor or date.

Paging "cursor": the body names the next page's cursor (cursor_path); it is sent back as the
query parameter cursor_param. At the end (no next cursor) the last cursor is kept, so the
next sync asks for the last page again and gets what was added to it since.
Paging "since": the newest date seen is sent as the query parameter since_param; a sync asks
again with the newer date until an answer brings nothing newer.
"""

import json
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from typing import ClassVar, Literal

from django import forms
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ingestion.connectors.base import Connector, ConnectorError, Cursor, Page, http_get, http_url
from ingestion.connectors.network import origin
from ingestion.importers import RawRecord
from ingestion.models import SourceKind
from ingestion.normalise import ColumnMapping, RowError, parse_datetime, read_field
from ingestion.source_forms import PollingSourceForm, secret_field

# A sync stops after this many pages and the next one goes on from its cursor, so one
# endless or very long listing cannot hold a worker for hours.
MAX_PAGES_PER_SYNC = 100


class RestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    auth_header_name: str = ""
    auth_header_value: str = ""
    # Dotted path to the list of items in the body ("data.reviews"); empty: the body is the list.
    items_path: str = ""
    mapping: ColumnMapping
    paging: Literal["none", "cursor", "since"] = "none"
    cursor_path: str = ""
    cursor_param: str = ""
    since_param: str = ""

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _paging_is_complete(self) -> "RestConfig":
        if self.paging == "cursor" and not (self.cursor_path and self.cursor_param):
            raise ValueError("cursor paging needs the next-cursor path and the query parameter")
        if self.paging == "since" and not self.since_param:
            raise ValueError("since paging needs the query parameter for the date")
        if self.paging == "since" and not self.mapping.created_at:
            raise ValueError("since paging needs the field that holds each item's date")
        if self.auth_header_value and not self.auth_header_name:
            raise ValueError("name the header the auth value is sent in")
        return self


class RestConnector(Connector[RestConfig]):
    kind: ClassVar[str] = SourceKind.REST
    config_schema = RestConfig
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_header_value",)

    def mapping(self, config: RestConfig) -> ColumnMapping:
        return config.mapping

    def secret_destination(self, config: dict[str, object]) -> object:
        return origin(str(config.get("url", "")))

    def fetch(self, config: RestConfig, cursor: Cursor) -> Iterator[Page]:
        for number in range(1, MAX_PAGES_PER_SYNC + 1):
            body = self._get_json(config, cursor)
            records = _records(config, body, number)
            after = _cursor_after(config, cursor, body, records)
            yield Page(records, after)
            # Nothing moved the cursor on: the listing is read to its end for now.
            if config.paging == "none" or not records or after == cursor:
                return
            cursor = after

    def _get_json(self, config: RestConfig, cursor: Cursor) -> object:
        url = _page_url(config, cursor)
        headers = {"Accept": "application/json"}
        if config.auth_header_name and config.auth_header_value:
            headers[config.auth_header_name] = config.auth_header_value
        body = http_get(url, headers)
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ConnectorError(f"{url} did not answer valid JSON: {error}") from error


def _page_url(config: RestConfig, cursor: Cursor) -> str:
    """Return the URL with the cursor or since parameter added, when there is one."""
    param, value = {
        "cursor": (config.cursor_param, cursor.get("next")),
        "since": (config.since_param, cursor.get("since")),
    }.get(config.paging, ("", None))
    if not param or value in (None, ""):
        return config.url
    parts = urllib.parse.urlsplit(config.url)
    query = [*urllib.parse.parse_qsl(parts.query), (param, str(value))]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _records(config: RestConfig, body: object, page: int) -> list[RawRecord]:
    if not config.items_path:
        items = body
    elif isinstance(body, dict):
        items = read_field(body, config.items_path)
    else:
        items = None  # a list or a value has no such path: reported below
    if not isinstance(items, list):
        where = f"at {config.items_path!r}" if config.items_path else "in the body"
        raise ConnectorError(f"expected a list of items {where}, found {type(items).__name__}")
    return [
        RawRecord(f"page {page} item {number}", item)
        if isinstance(item, dict)
        else RawRecord(f"page {page} item {number}", None, "is not a JSON object")
        for number, item in enumerate(items, start=1)
    ]


def _cursor_after(
    config: RestConfig, cursor: Cursor, body: object, records: list[RawRecord]
) -> Cursor:
    """Return where the sync goes on after this page."""
    if config.paging == "cursor":
        following = read_field(body, config.cursor_path) if isinstance(body, dict) else None
        # At the end the cursor stays, so the next sync re-reads the last page for additions.
        return {"next": following} if following not in (None, "") else dict(cursor)
    if config.paging == "since":
        return {"since": _newest_date(config, records, cursor.get("since"))}
    return {}


def _newest_date(config: RestConfig, records: list[RawRecord], since: object) -> object:
    """Return the newest date among the records and since, as the source wrote it."""
    now = timezone.now()
    newest, newest_at = since, _parsed(since, config.mapping, now)
    for record in records:
        value = read_field(record.fields or {}, config.mapping.created_at)
        moment = _parsed(value, config.mapping, now)
        if moment and (newest_at is None or moment > newest_at):
            newest, newest_at = value, moment
    return newest


def _parsed(value: object, mapping: ColumnMapping, now: datetime) -> datetime | None:
    try:
        return parse_datetime(value, mapping, now)
    except RowError:
        return None  # the item itself is reported when it is stored; here it just cannot page


# -- the form that configures a source of this kind ------------------------------------


class RestSourceForm(PollingSourceForm):
    connector = RestConnector()
    PAGING_CHOICES = [
        ("none", "No paging: one request"),
        ("cursor", "Cursor: the body names the next page"),
        ("since", "Since: ask for items newer than the newest seen"),
    ]
    # Form field -> ColumnMapping field, for the JSON keys of each item.
    MAPPING_FIELDS = {
        "text_field": "text",
        "id_field": "external_id",
        "date_field": "created_at",
        "rating_field": "rating",
        "title_field": "title",
        "author_field": "author",
    }

    url = forms.URLField(label="URL", assume_scheme="https")
    auth_header_name = forms.CharField(required=False, help_text="e.g. Authorization")
    auth_header_value = secret_field("Auth header value")
    items_path = forms.CharField(
        required=False, help_text="Dotted path to the list of items, e.g. data.reviews"
    )
    text_field = forms.CharField(label="Text key", initial="text")
    id_field = forms.CharField(label="Id key", required=False, initial="id")
    date_field = forms.CharField(label="Date key", required=False, initial="created_at")
    rating_field = forms.CharField(label="Rating key", required=False)
    title_field = forms.CharField(label="Title key", required=False)
    author_field = forms.CharField(label="Author key", required=False)
    date_format = forms.CharField(required=False, help_text="strptime format; blank: automatic")
    timezone = forms.CharField(initial="UTC", help_text="Time zone of dates that carry none")
    paging = forms.ChoiceField(choices=PAGING_CHOICES)
    cursor_path = forms.CharField(required=False, help_text="Dotted path to the next cursor")
    cursor_param = forms.CharField(required=False, help_text="Query parameter the cursor goes in")
    since_param = forms.CharField(required=False, help_text="Query parameter the date goes in")

    def config_data(self) -> dict[str, object]:
        data = self.cleaned_data
        mapping = {key: data[field] or None for field, key in self.MAPPING_FIELDS.items()}
        mapping.update(date_format=data["date_format"], timezone=data["timezone"])
        plain = ("url", "auth_header_name", "auth_header_value", "items_path", "paging")
        paging = ("cursor_path", "cursor_param", "since_param")
        return {**{name: data[name] for name in (*plain, *paging)}, "mapping": mapping}

    def initial_from_config(self, config: dict[str, object]) -> dict[str, object]:
        mapping = config.get("mapping")
        if not isinstance(mapping, dict):
            mapping = {}
        initial = {field: mapping.get(key) or "" for field, key in self.MAPPING_FIELDS.items()}
        initial.update({key: mapping[key] for key in ("date_format", "timezone") if key in mapping})
        names: tuple[str, ...] = ("url", "auth_header_name", "items_path", "paging")
        names += ("cursor_path", "cursor_param", "since_param")
        return {**initial, **{name: config[name] for name in names if name in config}}
