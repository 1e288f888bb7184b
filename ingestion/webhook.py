"""The push webhook: an authenticated POST of one item or a batch, in Feedlens' item format.

    {"id": "...", "text": "...", "title": "...", "author": "...", "rating": 4,
     "created_at": "2026-11-20T10:00:00Z", "language": "en", "kind": "review",
     "metadata": {...}}

A body may be one such object, a list of them, or {"items": [...]}.
"""

import json
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from ingestion.importers import RowProblem, store_items
from ingestion.models import DataSource, ItemKind, SyncStatus
from ingestion.normalise import (
    ColumnMapping,
    ItemDraft,
    RowError,
    build_draft,
    clean_metadata,
    read_json_number,
)

WEBHOOK_MAPPING = ColumnMapping(
    text="text",
    created_at="created_at",
    rating="rating",
    external_id="id",
    title="title",
    author="author",
    language="language",
)
# One request stores its batch in one go; bigger batches belong in a file upload.
MAX_ITEMS_PER_REQUEST = 1000


class PayloadError(ValueError):
    """The body as a whole is not an item or a batch of items; status is the HTTP status
    that says so (400, or 413 too large, 415 not JSON)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Body(Protocol):
    """A request body to read from (an HttpRequest is one)."""

    def read(self, size: int, /) -> bytes: ...


@dataclass
class WebhookResult:
    received: int = 0
    created: int = 0
    duplicates: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def valid(self) -> int:
        """Return how many of the items received were valid (stored, or stored before)."""
        return self.received - len(self.problems)

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "created": self.created,
            "duplicates": self.duplicates,
            "errors": [problem.as_dict() for problem in self.problems],
        }


def read_payload(content_type: str, body: Body) -> object:
    """Return the JSON value of a body of at most FEEDLENS_WEBHOOK_MAX_BYTES; PayloadError
    when it is not JSON, not UTF-8 or too large."""
    if content_type != "application/json":
        raise PayloadError("send the body as application/json", 415)
    limit = settings.FEEDLENS_WEBHOOK_MAX_BYTES
    # Read one byte past the limit rather than trust Content-Length, which may be absent.
    data = body.read(limit + 1)
    if len(data) > limit:
        raise PayloadError(f"the body is larger than {limit // 1024} KB", 413)
    try:
        return json.loads(data.decode("utf-8"), parse_int=read_json_number)
    except UnicodeDecodeError:
        raise PayloadError("the body is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise PayloadError(f"the body is not valid JSON: {error}") from None
    except RecursionError:
        # Python's reader stops at about 1,000 levels; no item of this format nests so deep.
        raise PayloadError("the body nests too deeply to read") from None


def items_in_payload(payload: object) -> list[object]:
    """Return the items of a body: one object, a list, or {"items": [...]}."""
    if isinstance(payload, dict) and "items" in payload:
        payload = payload["items"]
    elif isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise PayloadError('the body must be an item, a list of items or {"items": [...]}')
    if not payload:
        raise PayloadError("the body has no items")
    if len(payload) > MAX_ITEMS_PER_REQUEST:
        raise PayloadError(
            f"the body has {len(payload):,} items; send at most {MAX_ITEMS_PER_REQUEST:,} a request"
        )
    return payload


def accept_items(source: DataSource, payload: object) -> WebhookResult:
    """Validate and store the items of a webhook body; invalid items are reported, not stored."""
    items = items_in_payload(payload)
    result = WebhookResult(received=len(items))
    drafts = []
    for number, item in enumerate(items, start=1):
        try:
            drafts.append(draft_from_item(source, item))
        except RowError as error:
            result.problems.append(RowProblem(f"item {number}", error.field_name, error.message))
    stored = store_items(source, drafts)
    result.created, result.duplicates = stored.created, stored.duplicates
    status = SyncStatus.PARTIAL if result.problems else SyncStatus.OK
    source.record_sync(status, result.problems[0].describe() if result.problems else "")
    return result


def draft_from_item(source: DataSource, item: object) -> ItemDraft:
    """Return the draft of one item in the webhook format; RowError says what is wrong."""
    if not isinstance(item, dict):
        raise RowError("item", f"is a JSON {type(item).__name__}, not an object")
    kind = item.get("kind") or source.item_kind
    if not isinstance(kind, str) or kind not in ItemKind.values:
        raise RowError("kind", f"{kind!r} is not one of {', '.join(ItemKind.values)}")
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RowError("metadata", "must be a JSON object")
    draft = build_draft(
        item, WEBHOOK_MAPPING, kind, max_chars=settings.FEEDLENS_MAX_ITEM_CHARS, now=timezone.now()
    )
    # One cleaning of the merged metadata: its size limit is the item's, not each part's.
    draft.metadata = clean_metadata({**metadata, **draft.metadata})
    return draft
