"""Syncing a polling source: fetch page by page from its cursor, store each page's new items
and the cursor after it in one transaction, and record how it went on the source.

A sync that fails half-way keeps every page it stored; the next one starts after the last of
them. A failing source is tried again later and later (DataSource.backoff_delay).
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ingestion.connectors import Page, connector_for
from ingestion.connectors.base import ConnectorError
from ingestion.importers import RowProblem, drafts_from_records, store_items
from ingestion.models import DataSource, SyncStatus
from ingestion.normalise import ColumnMapping
from ingestion.secrets import SecretKeyError

# The outcome of a sync that did not run: another sync of the source held it, or the source
# is disabled or not a polling kind.
SKIPPED = "skipped"


@dataclass
class SyncResult:
    status: str
    created: int = 0
    duplicates: int = 0
    items_failed: int = 0
    pages: int = 0
    error: str = ""
    first_problem: RowProblem | None = None

    def as_dict(self) -> dict[str, object]:
        """Return the result as JSON values (what the Celery task returns)."""
        return {
            "status": str(self.status),
            "created": self.created,
            "duplicates": self.duplicates,
            "items_failed": self.items_failed,
            "pages": self.pages,
            "error": self.error,
        }


def sync_source(source_id: int) -> SyncResult:
    """Fetch the source's new items from its cursor and store them; return what it did.

    Safe to run twice at once: the second finds the source claimed and returns SKIPPED."""
    if not DataSource.objects.claim_sync(source_id, timezone.now()):
        return SyncResult(SKIPPED, error="another sync of this source is running")
    try:
        source = DataSource.objects.get(pk=source_id)
        if not (source.enabled and source.is_polling):
            return SyncResult(SKIPPED, error="the source is disabled or is not fetched")
        return _sync(source)
    finally:
        DataSource.objects.release_sync(source_id)


def _sync(source: DataSource) -> SyncResult:
    result = SyncResult(SyncStatus.OK)
    try:
        connector = connector_for(source.kind)
        config = connector.load_config(source.config)
        mapping = connector.mapping(config)
        for page in connector.fetch(config, source.sync_cursor):
            _store_page(source, page, mapping, result)
    except (ConnectorError, SecretKeyError) as error:
        result.status = SyncStatus.PARTIAL if result.created else SyncStatus.FAILED
        result.error = str(error)
        source.record_sync_failure(_describe_failure(result), result.created)
        return result
    if result.items_failed:
        result.status = SyncStatus.PARTIAL
        result.error = _describe_rejected(result)
    source.record_sync_success(result.status, result.created, result.error)
    return result


def _store_page(source: DataSource, page: Page, mapping: ColumnMapping, result: SyncResult) -> None:
    outcome = drafts_from_records(page.records, mapping, source.item_kind)
    # The items and the cursor after them land together: a crash between pages can neither
    # lose a stored page's cursor (and fetch it twice) nor move the cursor past lost items.
    with transaction.atomic():
        stored = store_items(source, outcome.drafts)
        DataSource.objects.filter(pk=source.pk).update(sync_cursor=page.cursor)
    source.sync_cursor = page.cursor
    result.pages += 1
    result.created += stored.created
    result.duplicates += stored.duplicates
    result.items_failed += len(outcome.problems)
    if outcome.problems and result.first_problem is None:
        result.first_problem = outcome.problems[0]


def _describe_rejected(result: SyncResult) -> str:
    first = result.first_problem.describe() if result.first_problem else ""
    return f"{result.items_failed} items were not imported; first: {first}"


def _describe_failure(result: SyncResult) -> str:
    if not result.pages:
        return result.error
    stored = f"the {result.pages} pages before it were stored, {result.created} new items"
    return f"{result.error} ({stored})"


def claim_due_syncs() -> list[int]:
    """Claim a sync of every source whose next sync time has come; return their ids, for
    the beat task to hand to workers."""
    now = timezone.now()
    # Claimed first, so a sync that is still queued is not queued again next minute.
    due = DataSource.objects.due_for_sync(now).values_list("pk", flat=True)
    return [source_id for source_id in due if DataSource.objects.claim_for_enqueue(source_id, now)]
