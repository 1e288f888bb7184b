"""python manage.py import_feedback PATH --source NAME --kind review --map text=COLUMN ..."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import ValidationError
from tqdm import tqdm

from ingestion.importers import FILE_FORMATS, ImportFileError, RowProblem, run_import
from ingestion.jobs import create_import_job, set_mapping
from ingestion.models import DataSource, ImportJob, ImportStatus, ItemKind
from ingestion.normalise import ColumnMapping, describe_mapping_error
from ingestion.presets import PRESETS

# --map keys, as a user types them, and the mapping fields they set.
MAP_KEYS = {
    "text": "text",
    "date": "created_at",
    "created_at": "created_at",
    "rating": "rating",
    "id": "external_id",
    "external_id": "external_id",
    "title": "title",
    "author": "author",
    "language": "language",
}
SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = "Import feedback from a CSV, JSON or JSONL file into a data source."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--source", required=True, help="data source name (made if new)")
        parser.add_argument("--kind", choices=ItemKind.values, help="kind of the items")
        parser.add_argument("--preset", choices=sorted(PRESETS), help="a ready-made mapping")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help=f"which column holds a field; fields: {', '.join(MAP_KEYS)}",
        )
        parser.add_argument("--meta", action="append", default=[], help="column kept as metadata")
        parser.add_argument("--date-format", default="", help="strptime format of the dates")
        parser.add_argument("--dayfirst", action="store_true", help="read 03/04 as 3 April")
        parser.add_argument("--timezone", default="", help="time zone of dates without one")
        parser.add_argument("--format", choices=FILE_FORMATS, default="", dest="file_format")
        parser.add_argument("--encoding", default="auto")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"].resolve()
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        mapping, kind = self._mapping_and_kind(options)
        source, made = DataSource.objects.get_or_create(
            name=options["source"], defaults={"item_kind": kind}
        )
        if made:
            self.stdout.write(f"Created the data source {source.name!r}.")
        try:
            job = create_import_job(
                source,
                path,
                original_name=path.name,
                item_kind=kind,
                file_format=options["file_format"],
                encoding=options["encoding"],
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        set_mapping(job, mapping)
        job = self._run_with_progress_bar(job)
        self._report(job)

    def _mapping_and_kind(self, options: dict[str, Any]) -> tuple[ColumnMapping, str]:
        preset = PRESETS.get(options["preset"] or "")
        fields: dict[str, Any] = preset.mapping.model_dump() if preset else {}
        for pair in options["map"]:
            key, _, column = pair.partition("=")
            if key not in MAP_KEYS or not column:
                raise CommandError(
                    f"--map {pair!r}: expected FIELD=COLUMN, FIELD one of {list(MAP_KEYS)}"
                )
            fields[MAP_KEYS[key]] = column
        if options["meta"]:
            fields["metadata"] = tuple(fields.get("metadata", ())) + tuple(options["meta"])
        for option, field in (("date_format", "date_format"), ("timezone", "timezone")):
            if options[option]:
                fields[field] = options[option]
        if options["dayfirst"]:
            fields["dayfirst"] = True
        if "text" not in fields:
            raise CommandError("name the column that holds the text: --map text=COLUMN")
        try:
            mapping = ColumnMapping.model_validate(fields)
        except ValidationError as error:
            raise CommandError(
                f"the column mapping is not valid: {describe_mapping_error(error)}"
            ) from error
        kind = options["kind"] or (preset.item_kind if preset else "")
        if not kind:
            raise CommandError("say what the items are with --kind (or use --preset)")
        return mapping, kind

    def _run_with_progress_bar(self, job: ImportJob) -> ImportJob:
        with tqdm(total=job.bytes_total, unit="B", unit_scale=True, desc=job.original_name) as bar:

            def show(progress: ImportJob) -> None:
                bar.update(progress.bytes_done - bar.n)
                bar.set_postfix_str(
                    f"{progress.items_created:,} new, {progress.rows_failed:,} errors"
                )

            job = run_import(job, on_progress=show)
            bar.update(job.bytes_total - bar.n)
        return job

    def _report(self, job: ImportJob) -> None:
        self.stdout.write(
            f"{job.rows_done:,} rows read: {job.items_created:,} new items, "
            f"{job.duplicates:,} duplicates skipped, {job.rows_failed:,} rows with errors."
        )
        for problem in job.row_errors[:SHOWN_ERRORS]:
            self.stdout.write(f"  {RowProblem(**problem).describe()}")
        if job.rows_failed > SHOWN_ERRORS:
            self.stdout.write(f"  … and {job.rows_failed - SHOWN_ERRORS:,} more.")
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.error)
