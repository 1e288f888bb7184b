"""Celery tasks of the ingestion app: thin wrappers that take ids and call plain functions."""

from celery import shared_task
from django.db import OperationalError

from ingestion.importers import run_import
from ingestion.models import ImportJob
from ingestion.sync import queue_due_syncs, sync_source


@shared_task(name="ingestion.import_file")
def import_file(job_id: int) -> None:
    """Import a queued file. Safe to run twice: a finished job is left alone, and a job
    interrupted mid-file resumes after its committed rows (duplicates never land)."""
    job = ImportJob.objects.select_related("source").get(pk=job_id)
    run_import(job)


# The database going away is worth waiting for; a source that fails is not retried here:
# the sync records the error and DataSource.next_sync_at backs it off.
@shared_task(
    name="ingestion.sync_source",
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def sync_source_task(source_id: int) -> dict[str, object]:
    """Fetch a polling source's new items. Safe to run twice: a sync already running on the
    source makes this one return "skipped", and the cursor never re-reads a stored page."""
    return sync_source(source_id).as_dict()


@shared_task(name="ingestion.sync_due_sources")
def sync_due_sources_task() -> list[int]:
    """Beat, every minute: queue the sources whose next sync time has come."""
    return queue_due_syncs()
