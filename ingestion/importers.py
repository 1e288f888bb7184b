"""Read feedback files (CSV, JSON, JSONL) as a stream and store their items without duplicates.

A file is never loaded whole: rows are read one at a time and stored in batches, each batch
committed together with the job's progress, so a killed import resumes where it stopped.
"""

import codecs
import contextlib
import csv
import io
import itertools
import json
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO

import ijson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from feedlens.jobs import carry_out, claim_job, heartbeat
from ingestion.models import DataSource, FeedbackItem, ImportJob, ImportStatus, SyncStatus
from ingestion.normalise import (
    UNDECODABLE,
    ColumnMapping,
    ItemDraft,
    RowError,
    build_draft,
    read_json_number,
)
from ingestion.signals import items_stored

FILE_FORMATS = ("csv", "json", "jsonl")
# 1,000 rows a batch keeps each transaction short on SQLite and cuts round trips on PostgreSQL.
BATCH_SIZE = 1000
# Row errors kept on a job for the user to read; the count of failed rows is always exact.
MAX_REPORTED_ERRORS = 500
JSON_CHUNK_CHARS = 64 * 1024
# A single CSV field may be long (a support e-mail); the text limit is checked per item.
csv.field_size_limit(min(sys.maxsize, 64 * 1024 * 1024))


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    """Replace bytes that do not decode with a marker, so that only their row is rejected."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return UNDECODABLE, error.end


UNDECODABLE_HANDLER = "feedlens-mark"
codecs.register_error(UNDECODABLE_HANDLER, _mark_undecodable)


class ImportFileError(Exception):
    """The file as a whole cannot be read (not just some of its rows)."""


@dataclass
class RawRecord:
    """One record of a file: where it is (for error messages) and its fields."""

    position: str
    fields: dict[str, object] | None
    error: str = ""


@dataclass
class RowProblem:
    position: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"position": self.position, "field": self.field, "message": self.message}

    def describe(self) -> str:
        """Return the problem as one line: "row 2 (line 3): text is empty"."""
        return f"{self.position}: {self.field} {self.message}"


@dataclass
class StoreResult:
    created: int = 0
    duplicates: int = 0


@dataclass
class BatchOutcome:
    drafts: list[ItemDraft] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def detect_encoding(head: bytes, declared: str) -> str:
    """Return the encoding to read a file with: the declared one, or one its start shows."""
    if declared and declared != "auto":
        _check_text_encoding(head, declared)
        return declared
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head[:4096]:
        raise ImportFileError(
            "the file has NUL bytes: it looks like UTF-16 without a byte-order mark; "
            "save it as UTF-8 or give its encoding"
        )
    return "utf-8-sig"  # reads plain UTF-8 too, and drops a BOM if there is one


def _check_text_encoding(head: bytes, encoding: str) -> None:
    """ImportFileError unless encoding is a text encoding that reads the file's first bytes
    with the importer's error handler: Python also names codecs from bytes to bytes
    (zlib_codec, base64) and codecs that read only their own alphabet (punycode, idna)."""
    try:
        info = codecs.lookup(encoding)
    except LookupError as error:
        raise ImportFileError(f"unknown encoding {encoding!r}") from error
    # _is_text_encoding is the one flag Python keeps for this (codecs.CodecInfo).
    if not info._is_text_encoding:
        raise ImportFileError(f"{encoding!r} is not a text encoding")
    try:
        codecs.getincrementaldecoder(encoding)(errors=UNDECODABLE_HANDLER).decode(head)
    except (UnicodeError, ValueError, TypeError) as error:
        raise ImportFileError(f"cannot read the file as {encoding!r}: {error}") from error


def detect_format(name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix == "ndjson":
        return "jsonl"
    if suffix not in FILE_FORMATS:
        raise ImportFileError(f"cannot tell the format of {name!r}: use .csv, .json or .jsonl")
    return suffix


@contextlib.contextmanager
def _text_stream(binary: BinaryIO, encoding: str) -> Iterator[io.TextIOWrapper]:
    """Decode binary as text; the binary file stays open, for progress by bytes read."""
    text = io.TextIOWrapper(binary, encoding=encoding, errors=UNDECODABLE_HANDLER, newline="")
    try:
        yield text
    finally:
        if not binary.closed:  # closed already when the reader is abandoned mid-file
            text.detach()


def read_csv(binary: BinaryIO, encoding: str) -> Iterator[RawRecord]:
    with _text_stream(binary, encoding) as text:
        yield from _csv_records(text)


def _csv_records(text: io.TextIOWrapper) -> Iterator[RawRecord]:
    header_line = text.readline()
    if not header_line.strip():
        raise ImportFileError("the first line is empty: it must name the columns")
    # The header names the columns, so the separator it uses most is the file's separator.
    delimiter = max(",;\t|", key=header_line.count)
    header = [name.strip() for name in next(csv.reader([header_line], delimiter=delimiter))]
    counter, lines, first_line = _RowCounter(), iter(text), 2
    for _ in range(MAX_QUOTE_RECOVERIES):
        rest = yield from _csv_rows(lines, header, delimiter, counter, first_line)
        if rest is None:
            return
        lines, first_line = rest
    # Each recovery read the rest of the file again: past a few, read it a line at a time.
    for number, line in enumerate(lines, start=first_line):
        values = next(csv.reader([line], delimiter=delimiter), [])
        if any(value.strip() for value in values):
            yield from _csv_record(values, header, f"row {counter.next_row()} (line {number})", 1)


# Quotes that never close which _csv_records reads past by reading the rest of the file again
# (a record spans lines only inside quotes); a file with more is read a line at a time after.
MAX_QUOTE_RECOVERIES = 10


class _RowCounter:
    """Numbers rows across the readers of one file (a re-read goes on counting)."""

    def __init__(self) -> None:
        self.rows = 0

    def next_row(self) -> int:
        self.rows += 1
        return self.rows


class _LineTape:
    """Hands lines to csv.reader and keeps those of the record being read, to read again."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> "_LineTape":
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.taken.append(line)
        return line


def _csv_rows(
    lines: Iterator[str], header: list[str], delimiter: str, counter: _RowCounter, first_line: int
) -> Generator[RawRecord, None, tuple[Iterator[str], int] | None]:
    """Yield the records of lines; return None at their end, or, after a quote that never
    closed, the lines after the row it opened in and the number of the first of them."""
    tape = _LineTape(lines)
    reader = csv.reader(tape, delimiter=delimiter)
    while True:
        tape.taken.clear()
        record_line = first_line + reader.line_num
        try:
            values = next(reader)
        except StopIteration:
            return None
        except csv.Error as error:
            position = f"row {counter.next_row()} (line {record_line})"
            yield RawRecord(position, None, str(error))
            continue
        if not any(value.strip() for value in values):
            continue  # blank lines are not rows
        position = f"row {counter.next_row()} (line {record_line})"
        if len(tape.taken) > 1 and _quote_left_open(tape.taken, delimiter):
            # The quote ran to the end of the file and swallowed every row after its own:
            # report its row, and have the lines after it read as the rows they are.
            yield RawRecord(position, None, UNCLOSED_QUOTE)
            return iter(tape.taken[1:]), record_line + 1
        yield from _csv_record(values, header, position, len(tape.taken), record_line)


def _csv_record(
    values: list[str], header: list[str], position: str, line_count: int, record_line: int = 0
) -> Iterator[RawRecord]:
    """Yield the record of one row's values."""
    if len(values) != len(header):
        message = f"has {len(values)} fields; the header has {len(header)}"
        if line_count > 1:
            message += (
                f" (it runs on to line {record_line + line_count - 1}: is a quote left open?)"
            )
        yield RawRecord(position, None, message)
        return
    yield RawRecord(position, dict(zip(header, values, strict=True)))


UNCLOSED_QUOTE = "opens a quote that never closes; the lines after it are read as rows"


def _quote_left_open(record_lines: list[str], delimiter: str) -> bool:
    """Whether the record ends inside a quoted field: only the end of the file ends it so,
    as the lenient reader takes everything after an unclosed quote into one field."""
    strict = csv.reader(io.StringIO("".join(record_lines)), delimiter=delimiter, strict=True)
    try:
        for _ in strict:
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def read_jsonl(binary: BinaryIO, encoding: str) -> Iterator[RawRecord]:
    with _text_stream(binary, encoding) as text:
        for line_number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            position = f"line {line_number}"
            try:
                value = json.loads(line, parse_int=read_json_number)
            except json.JSONDecodeError as error:
                yield RawRecord(position, None, f"is not valid JSON: {error.msg}")
                continue
            except RecursionError:
                yield RawRecord(position, None, "nests too deeply to read")
                continue
            yield _json_record(position, value)


def read_json(binary: BinaryIO, encoding: str) -> Iterator[RawRecord]:
    """Read a top-level array of objects, or an object whose "items" key holds one."""
    with _text_stream(binary, encoding) as text:
        yield from _json_records(text)


def _json_records(text: io.TextIOWrapper) -> Iterator[RawRecord]:
    first = text.read(1)
    while first and first.isspace():
        first = text.read(1)
    if first not in ("[", "{"):
        raise ImportFileError('a JSON file must hold an array of items or {"items": [...]}')
    prefix = "item" if first == "[" else "items.item"
    chunks = itertools.chain([first], iter(lambda: text.read(JSON_CHUNK_CHARS), ""))
    number = 0
    try:
        for value in ijson.items(_ChunkReader(chunks), prefix, use_float=True):
            number += 1
            yield _json_record(f"item {number}", value)
    except ijson.JSONError as error:
        raise ImportFileError(
            f"the file stops being valid JSON after item {number}: {error}; "
            f"the {number} items before it were read"
        ) from error


class _ChunkReader:
    """Gives ijson the read() it wants over chunks of decoded text, as UTF-8 bytes."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self.chunks = chunks

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) to learn whether it gets bytes or text
            return b""
        return next(self.chunks, "").encode()


def _json_record(position: str, value: object) -> RawRecord:
    if not isinstance(value, dict):
        return RawRecord(position, None, f"is a JSON {type(value).__name__}, not an object")
    return RawRecord(position, value)


READERS: dict[str, Callable[[BinaryIO, str], Iterator[RawRecord]]] = {
    "csv": read_csv,
    "json": read_json,
    "jsonl": read_jsonl,
}


def read_records(binary: BinaryIO, file_format: str, declared_encoding: str) -> Iterator[RawRecord]:
    """Return the records of an open file, read in the encoding it declares or shows."""
    encoding = detect_encoding(binary.read(4096), declared_encoding)
    binary.seek(0)
    return READERS[file_format](binary, encoding)


def drafts_from_records(
    records: Iterable[RawRecord], mapping: ColumnMapping, kind: str
) -> BatchOutcome:
    """Return the valid drafts of records and a problem for every invalid one."""
    outcome = BatchOutcome()
    now = timezone.now()
    for record in records:
        if record.fields is None:
            outcome.problems.append(RowProblem(record.position, "row", record.error))
            continue
        try:
            draft = build_draft(
                record.fields, mapping, kind, max_chars=settings.FEEDLENS_MAX_ITEM_CHARS, now=now
            )
        except RowError as error:
            outcome.problems.append(RowProblem(record.position, error.field_name, error.message))
            continue
        outcome.drafts.append(draft)
    return outcome


def store_items(
    source: DataSource, drafts: list[ItemDraft], import_job: ImportJob | None = None
) -> StoreResult:
    """Store the drafts that are not already stored; return how many this call inserted."""
    fresh = _without_known_items(source, _unique_within(drafts))
    items = [_item_from_draft(source, draft, import_job) for draft in fresh]
    # The items and what the listeners keep about them (the dashboards' counts) commit
    # together: a count of every item may not fall between them.
    with transaction.atomic():
        created = _insert_counting(items)
        if created:
            stored = [item.pk for item in items if item.pk is not None]
            items_stored.send(sender=FeedbackItem, item_ids=stored)
    ratings = [draft.rating for draft in fresh if draft.rating is not None]
    DataSource.objects.widen_rating_range(source.pk, ratings)
    return StoreResult(created=created, duplicates=len(drafts) - created)


def _insert_counting(items: list[FeedbackItem]) -> int:
    """Insert the items; return how many this call inserted.

    A concurrent writer (a webhook retry, a second import of the file) may store some of
    them between the check for known items and this insert: the unique constraints then
    refuse the batch, and the items are inserted one by one, each counted only if it is
    this call's row, so that the counts of concurrent calls add up to the rows stored."""
    try:
        with transaction.atomic():
            FeedbackItem.objects.bulk_create(items, batch_size=BATCH_SIZE)
        return len(items)
    except IntegrityError:
        pass
    inserted = 0
    for item in items:
        item.pk = None
        try:
            with transaction.atomic():
                item.save(force_insert=True)
        except IntegrityError:
            continue  # the other writer's row: a duplicate here
        inserted += 1
    return inserted


def _identity(draft: ItemDraft) -> tuple[str, str]:
    return ("id", draft.external_id) if draft.external_id else ("hash", draft.content_hash)


def _unique_within(drafts: list[ItemDraft]) -> list[ItemDraft]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for draft in drafts:
        if _identity(draft) not in seen:
            seen.add(_identity(draft))
            unique.append(draft)
    return unique


def _stored_identities(source: DataSource, drafts: list[ItemDraft]) -> set[tuple[str, str]]:
    """Return the identities (see _identity) of the drafts that are already stored."""
    ids = [draft.external_id for draft in drafts if draft.external_id]
    hashes = [draft.content_hash for draft in drafts if not draft.external_id]
    by_id = FeedbackItem.objects.filter(source=source, external_id__in=ids)
    by_hash = FeedbackItem.objects.filter(external_id="", content_hash__in=hashes)
    return {("id", value) for value in by_id.values_list("external_id", flat=True)} | {
        ("hash", value) for value in by_hash.values_list("content_hash", flat=True)
    }


def _without_known_items(source: DataSource, drafts: list[ItemDraft]) -> list[ItemDraft]:
    known = _stored_identities(source, drafts)
    return [draft for draft in drafts if _identity(draft) not in known]


def _item_from_draft(
    source: DataSource, draft: ItemDraft, import_job: ImportJob | None
) -> FeedbackItem:
    return FeedbackItem(
        source=source,
        external_id=draft.external_id,
        kind=draft.kind,
        text=draft.text,
        title=draft.title,
        author_handle=draft.author_handle,
        rating=draft.rating,
        language=draft.language,
        created_at=draft.created_at,
        metadata=draft.metadata,
        content_hash=draft.content_hash,
        import_job=import_job,
    )


def _batches(records: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


ProgressCallback = Callable[[ImportJob], None]


def run_import(
    job: ImportJob, on_progress: ProgressCallback | None = None, *, task_id: str = ""
) -> ImportJob:
    """Import the job's file into its source, resuming after the rows already done.

    Returns the job with its final counts; a whole-file error marks it failed, with the
    items read before the error kept. A job that is finished, or that another worker holds
    (feedlens.jobs.claim_job), is returned as it is."""
    claimed = claim_job(ImportJob, job.pk, task_id=task_id)
    if claimed is None:
        job.refresh_from_db()
        return job
    claimed.source = job.source
    carry_out(
        claimed,
        partial(_import_file, claimed, on_progress),
        expected=(ImportFileError, OSError),
    )
    if claimed.is_finished:
        claimed.source.record_sync(_sync_status(claimed), claimed.error or _error_summary(claimed))
    return claimed


def _import_file(job: ImportJob, on_progress: ProgressCallback | None) -> dict[str, int]:
    mapping = ColumnMapping.model_validate(job.mapping)
    path = Path(job.file_path)
    heartbeat(job, bytes_total=path.stat().st_size)
    with path.open("rb") as binary:
        records = read_records(binary, job.file_format, job.encoding)
        _import_records(job, records, mapping, binary, on_progress)
    return {"bytes_done": job.bytes_total}


def _import_records(
    job: ImportJob,
    records: Iterator[RawRecord],
    mapping: ColumnMapping,
    binary: BinaryIO,
    on_progress: ProgressCallback | None,
) -> None:
    skipped = 0
    for batch in _batches(records, BATCH_SIZE):
        # Rows committed by an earlier, interrupted run of this job are not read again.
        if skipped + len(batch) <= job.rows_done:
            skipped += len(batch)
            continue
        batch = batch[max(0, job.rows_done - skipped) :]
        skipped = job.rows_done
        _import_batch(job, batch, mapping, binary.tell())
        skipped += len(batch)
        if on_progress:
            on_progress(job)


def _import_batch(
    job: ImportJob, batch: list[RawRecord], mapping: ColumnMapping, bytes_done: int
) -> None:
    outcome = drafts_from_records(batch, mapping, job.item_kind)
    room = max(0, MAX_REPORTED_ERRORS - len(job.row_errors))
    with transaction.atomic():
        result = store_items(job.source, outcome.drafts, job)
        # The batch's items commit with its counts and the heartbeat, or not at all: a
        # worker whose job was taken over (LeaseLost) stores nothing more.
        heartbeat(
            job,
            rows_done=job.rows_done + len(batch),
            bytes_done=bytes_done,
            items_created=job.items_created + result.created,
            duplicates=job.duplicates + result.duplicates,
            rows_failed=job.rows_failed + len(outcome.problems),
            row_errors=[*job.row_errors, *(p.as_dict() for p in outcome.problems[:room])],
        )


def _sync_status(job: ImportJob) -> str:
    if job.status == ImportStatus.FAILED:
        return SyncStatus.PARTIAL if job.items_created else SyncStatus.FAILED
    return SyncStatus.PARTIAL if job.rows_failed else SyncStatus.OK


def _error_summary(job: ImportJob) -> str:
    if not job.rows_failed:
        return ""
    first = RowProblem(**job.row_errors[0]).describe()
    return f"{job.rows_failed} rows of {job.original_name} were not imported; first: {first}"


def preview_file(
    path: Path, file_format: str, encoding: str, limit: int = 5
) -> tuple[list[str], list[dict[str, object]]]:
    """Return the columns of a file (nested JSON keys dotted) and its first records."""
    with path.open("rb") as binary:
        records = read_records(binary, file_format, encoding)
        rows = [
            _flatten(record.fields)
            for record in itertools.islice(records, limit * 4)
            if record.fields is not None
        ][:limit]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns), rows


def _flatten(fields: dict[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in fields.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
