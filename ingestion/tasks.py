"""Celery tasks of the ingestion app: thin wrappers that take ids and call plain functions."""

from celery import shared_task

from ingestion.importers import run_import
from ingestion.models import ImportJob


@shared_task(name="ingestion.import_file")
def import_file(job_id: int) -> None:
    """Import a queued file. Safe to run twice: a finished job is left alone, and a job
    interrupted mid-file resumes after its committed rows (duplicates never land)."""
    job = ImportJob.objects.select_related("source").get(pk=job_id)
    run_import(job)
