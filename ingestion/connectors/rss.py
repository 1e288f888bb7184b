"""An RSS or Atom feed, read with feedparser: one page per sync, the entries newer than the
newest date already seen (entries with the same date come again and are dropped as duplicates
by their id, so none is skipped)."""

import calendar
import html
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import ClassVar

import feedparser
from django import forms
from django.utils.html import strip_tags
from pydantic import BaseModel, ConfigDict, field_validator

from ingestion.connectors.base import Connector, ConnectorError, Cursor, Page, http_get, http_url
from ingestion.importers import RawRecord
from ingestion.models import SourceKind
from ingestion.normalise import ColumnMapping
from ingestion.source_forms import PollingSourceForm

# Records are built by this module, so their fields have fixed names.
FEED_MAPPING = ColumnMapping(
    text="text",
    created_at="created_at",
    external_id="id",
    title="title",
    author="author",
    metadata=("link",),
)

FEED_TYPES = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return http_url(value)


class FeedConnector(Connector[FeedConfig]):
    kind: ClassVar[str] = SourceKind.RSS
    config_schema = FeedConfig

    def mapping(self, config: FeedConfig) -> ColumnMapping:
        return FEED_MAPPING

    def fetch(self, config: FeedConfig, cursor: Cursor) -> Iterator[Page]:
        feed = feedparser.parse(http_get(config.url, {"Accept": FEED_TYPES}))
        if feed.bozo and not feed.entries:
            raise ConnectorError(f"{config.url} is not an RSS or Atom feed: {feed.bozo_exception}")
        since = str(cursor.get("newest") or "")
        records, newest = [], since
        for number, entry in enumerate(feed.entries, start=1):
            fields = _entry_fields(entry)
            moment = str(fields["created_at"] or "")
            # ISO 8601 in UTC sorts as text. Undated entries always come: their id de-duplicates.
            if moment and moment < since:
                continue
            newest = max(newest, moment)
            records.append(RawRecord(f"entry {number}", fields))
        yield Page(records, {"newest": newest} if newest else {})


def _entry_fields(entry: feedparser.FeedParserDict) -> dict[str, object]:
    """Return an entry as a record: text without markup, id, dates in ISO 8601 UTC."""
    content = entry.get("content") or []
    body = content[0].get("value", "") if content else entry.get("summary", "")
    text = html.unescape(strip_tags(body)).strip() or entry.get("title", "")
    return {
        "id": entry.get("id") or entry.get("link") or "",
        "text": text,
        "title": entry.get("title", ""),
        "author": entry.get("author", ""),
        "created_at": _iso(entry.get("published_parsed") or entry.get("updated_parsed")),
        "link": entry.get("link", ""),
    }


def _iso(parsed: object) -> str | None:
    """feedparser gives dates as UTC struct_time; return ISO 8601 text, None if none."""
    if not isinstance(parsed, time.struct_time):
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC).isoformat()


# -- the form that configures a source of this kind ------------------------------------


class FeedSourceForm(PollingSourceForm):
    connector = FeedConnector()

    url = forms.URLField(label="Feed URL", assume_scheme="https")

    def config_data(self) -> dict[str, object]:
        return {"url": self.cleaned_data["url"]}

    def initial_from_config(self, config: dict[str, object]) -> dict[str, object]:
        return {"url": config["url"]} if "url" in config else {}
