"""Celery tasks of the ingestion app: thin wrappers that take ids and call plain functions.

Web pages and commands hand work to these through ingestion.jobs; the beat tasks below hand
out what they find themselves."""

from celery import Task, shared_task

from feedlens.jobs import JOB_TASK_RETRY, enqueue_on_commit, requeue_expired
from ingestion.importers import run_import
from ingestion.models import ImportJob
from ingestion.sync import claim_due_syncs, sync_source


# The database going away is worth waiting for (feedlens.jobs.carry_out leaves the job for
# the retry); a file that cannot be read fails the job, for its page to say why.
@shared_task(
    bind=True,
    name="ingestion.import_file",
    **JOB_TASK_RETRY,
)
def import_file(self: Task, job_id: int) -> str:
    """Import a queued file. Safe to run twice: a finished job is left alone, and a job
    interrupted mid-file resumes after its committed rows (duplicates never land)."""
    job = ImportJob.objects.select_related("source").get(pk=job_id)
    return run_import(job, task_id=self.request.id or "").status


# The database going away is worth waiting for; a source that fails is not retried here:
# the sync records the error and DataSource.next_sync_at backs it off.
@shared_task(
    name="ingestion.sync_source",
    **JOB_TASK_RETRY,
)
def sync_source_task(source_id: int) -> dict[str, object]:
    """Fetch a polling source's new items. Safe to run twice: a sync already running on the
    source makes this one return "skipped", and the cursor never re-reads a stored page."""
    return sync_source(source_id).as_dict()


@shared_task(name="ingestion.sync_due_sources")
def sync_due_sources_task() -> list[int]:
    """Beat, every minute: queue the sources whose next sync time has come."""
    source_ids = claim_due_syncs()
    for source_id in source_ids:
        enqueue_on_commit(sync_source_task, source_id)
    return source_ids


@shared_task(name="ingestion.requeue_expired_jobs")
def requeue_expired_jobs_task() -> list[int]:
    """Beat, every minute: hand out again the imports whose worker died (feedlens.jobs)."""
    return requeue_expired(ImportJob, import_file)
