"""Creating and starting the ingestion app's work: file imports (the one path shared by the
upload form and the CLI) and syncs of polling sources. The one module of the app that hands
work to Celery; beat's own tasks (ingestion.tasks) hand out what they find themselves."""

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.uploadedfile import UploadedFile

from accounts.people import signed_in_person
from feedlens.jobs import hand_out_on_commit, send
from ingestion import tasks
from ingestion.importers import detect_format
from ingestion.models import DataSource, ImportJob, ImportStatus
from ingestion.normalise import ColumnMapping


def save_upload(upload: UploadedFile) -> Path:
    """Store an uploaded file under MEDIA_ROOT, where web and worker both read it."""
    folder = Path(settings.MEDIA_ROOT) / "imports" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(upload.name or "upload").name
    with path.open("wb") as destination:
        for chunk in upload.chunks():
            destination.write(chunk)
    return path


def create_import_job(
    source: DataSource,
    path: Path,
    *,
    original_name: str,
    item_kind: str,
    file_format: str = "",
    encoding: str = "auto",
    created_by: AbstractBaseUser | AnonymousUser | None = None,
) -> ImportJob:
    """Return a new job for a file whose column mapping is still to be chosen."""
    return ImportJob.objects.create(
        source=source,
        file_path=str(path),
        original_name=original_name,
        file_format=file_format or detect_format(original_name),
        encoding=encoding,
        item_kind=item_kind,
        bytes_total=path.stat().st_size,
        created_by=signed_in_person(created_by),
    )


def set_mapping(job: ImportJob, mapping: ColumnMapping) -> None:
    """Record how the file's columns map to items: the job is then ready to run."""
    job.mapping = mapping.model_dump(mode="json")
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["mapping", "status"])


def queue_import(job: ImportJob, mapping: ColumnMapping) -> None:
    """Set the mapping and hand the job to a worker once the transaction commits."""
    set_mapping(job, mapping)
    hand_out_on_commit(tasks.import_file, job)


def queue_sync(source_id: int) -> None:
    """Hand a sync of the source to a worker now; raise feedlens.jobs.QueueUnreachable when
    the broker cannot take it."""
    send(tasks.sync_source_task, source_id)
