"""Imports on a real Celery worker when things go wrong: the database connection cut in the
middle of the file, and a worker that died holding the job."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from feedlens.jobs import claim_job
from ingestion.jobs import create_import_job, queue_import
from ingestion.models import DataSource, FeedbackItem, ImportJob, ImportStatus
from ingestion.tasks import requeue_expired_jobs_task
from tests.conftest import wait_until
from tests.ingestion.test_importers import MAPPING, review_rows, write_csv

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def new_job(tmp_path: Path, rows: int) -> ImportJob:
    path = write_csv(tmp_path / "reviews.csv", review_rows(rows))
    source = DataSource.objects.create(name="App reviews", item_kind="review")
    return create_import_job(source, path, original_name=path.name, item_kind="review")


def finished(job_id: int) -> bool:
    return ImportJob.objects.get(pk=job_id).is_finished


def test_a_database_error_inside_an_import_is_retried_and_the_import_finishes(
    celery_worker: str, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("cutting a worker's database connection needs PostgreSQL")
    job = new_job(tmp_path, 60_000)
    queue_import(job, MAPPING)
    wait_until(lambda: ImportJob.objects.get(pk=job.pk).rows_done > 0, 60, "no batch was stored")
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.RUNNING

    # The worker's next query fails with an OperationalError, as when the database restarts.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    # The first retry comes within 30 s (retry_backoff, with jitter).
    wait_until(lambda: finished(job.pk), 180, "the import did not finish")

    job.refresh_from_db()
    assert (job.status, job.error, job.attempts) == (ImportStatus.DONE, "", 2)
    assert (job.rows_done, job.items_created, job.duplicates) == (60_000, 60_000, 0)
    assert FeedbackItem.objects.count() == 60_000


def test_an_import_whose_worker_died_is_handed_out_again_and_finished(
    celery_worker: str, tmp_path: Path
) -> None:
    job = new_job(tmp_path, 2_500)
    queued = ImportJob.objects.filter(pk=job.pk)
    queued.update(mapping=MAPPING.model_dump(mode="json"), status=ImportStatus.QUEUED)
    # A worker claimed it and died: no heartbeat came, and the lease ran out.
    assert claim_job(ImportJob, job.pk, task_id="a-dead-worker's-task") is not None
    queued.update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    requeue_expired_jobs_task.delay()  # what beat sends every minute
    wait_until(lambda: finished(job.pk), 120, "the import was not handed out again")

    job.refresh_from_db()
    assert (job.status, job.attempts, job.task_id != "a-dead-worker's-task") == ("done", 2, True)
    assert (job.items_created, FeedbackItem.objects.count()) == (2_500, 2_500)
