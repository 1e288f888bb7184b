import csv
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from django.utils import timezone

from ingestion import importers
from ingestion.importers import run_import
from ingestion.jobs import create_import_job
from ingestion.models import DataSource, FeedbackItem, ImportJob, ImportStatus, SyncStatus
from ingestion.normalise import ColumnMapping

pytestmark = pytest.mark.django_db

MAPPING = ColumnMapping(
    text="body", created_at="posted", rating="stars", external_id="review_id", title="headline"
)
FIXTURES = Path(__file__).parent.parent / "fixtures"


def make_source(name: str = "App reviews") -> DataSource:
    return DataSource.objects.create(name=name, item_kind="review")


def import_file(
    path: Path,
    mapping: ColumnMapping = MAPPING,
    source: DataSource | None = None,
    **job_options: str,
) -> ImportJob:
    job = create_import_job(
        source or make_source(), path, original_name=path.name, item_kind="review", **job_options
    )
    job.mapping = mapping.model_dump(mode="json")
    job.save()
    return run_import(job)


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def review_rows(count: int) -> list[dict[str, object]]:
    return [
        {
            "review_id": f"r-{n}",
            "posted": f"2026-{1 + n % 9:02d}-{1 + n % 27:02d} 10:{n % 60:02d}",
            "stars": 1 + n % 5,
            "headline": f"Review {n}",
            "body": f"Review number {n}: the bank sync {'works' if n % 2 else 'fails'}.",
        }
        for n in range(count)
    ]


def test_it_imports_every_valid_row_and_reports_each_bad_one(tmp_path: Path) -> None:
    rows = review_rows(10_000)
    rows[10]["body"] = "   "
    rows[500]["posted"] = "32/13/2015"
    rows[9_000]["body"] = "x" * 25_000
    job = import_file(write_csv(tmp_path / "reviews.csv", rows))

    assert job.status == ImportStatus.DONE
    assert (job.items_created, job.rows_failed, job.duplicates) == (9_997, 3, 0)
    assert FeedbackItem.objects.count() == 9_997
    assert job.row_errors == [
        {"position": "row 11 (line 12)", "field": "text", "message": "is empty"},
        {
            "position": "row 501 (line 502)",
            "field": "created_at",
            "message": "'32/13/2015' is not a date",
        },
        {
            "position": "row 9001 (line 9002)",
            "field": "text",
            "message": "has 25,000 characters; the limit is 20,000",
        },
    ]
    assert job.source.last_sync_status == SyncStatus.PARTIAL
    assert "row 11" in job.source.last_error


def test_importing_the_same_file_again_adds_nothing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "reviews.csv", review_rows(50))
    source = make_source()
    first = import_file(path, source=source)
    again = import_file(path, source=source)
    assert (first.items_created, again.items_created, again.duplicates) == (50, 0, 50)
    assert FeedbackItem.objects.count() == 50


def test_it_stores_the_mapped_fields(tmp_path: Path) -> None:
    job = import_file(FIXTURES / "reviews.csv", MAPPING.model_copy(update={"author": "user"}))
    item = FeedbackItem.objects.get(external_id="r-4")
    assert item.text == "The app crashes every time I scan a receipt, since the update."
    assert (item.title, item.rating, item.author_handle, item.kind) == (
        "Crashes",
        2.0,
        "dee",
        "review",
    )
    assert item.created_at.isoformat() == "2026-10-07T19:55:00+00:00"
    assert item.import_job == job


def test_without_ids_the_same_text_and_time_is_one_item_across_sources(tmp_path: Path) -> None:
    rows = [{"body": "Bank sync  fails", "posted": "2026-10-05 09:00"}]
    rows += [{"body": "bank sync fails", "posted": "2026-10-05 09:00"}]
    rows += [{"body": "bank sync fails", "posted": "2026-10-06 09:00"}]
    path = write_csv(tmp_path / "plain.csv", rows)
    mapping = ColumnMapping(text="body", created_at="posted")
    first = import_file(path, mapping, make_source("Support inbox"))
    second = import_file(path, mapping, make_source("Forwarded mail"))
    assert (first.items_created, first.duplicates) == (2, 1)
    assert (second.items_created, second.duplicates) == (0, 3)


def test_an_id_is_unique_per_source_not_across_sources(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "reviews.csv", review_rows(5))
    import_file(path, source=make_source("iOS reviews"))
    import_file(path, source=make_source("Android reviews"))
    assert FeedbackItem.objects.count() == 10


@pytest.mark.parametrize("shape", ["array", "object"])
def test_it_imports_json(tmp_path: Path, shape: str) -> None:
    rows = review_rows(30)
    body = rows if shape == "array" else {"items": rows, "exported": "2026-11-01"}
    path = tmp_path / "reviews.json"
    path.write_text(json.dumps(body, indent=2))
    job = import_file(path)
    assert (job.status, job.items_created, job.rows_failed) == (ImportStatus.DONE, 30, 0)
    assert FeedbackItem.objects.get(external_id="r-7").rating == 3.0


def test_it_imports_jsonl_and_reports_broken_lines(tmp_path: Path) -> None:
    lines = [json.dumps(row) for row in review_rows(4)]
    lines.insert(2, '{"body": "half a line"')
    lines.insert(3, "[1, 2]")
    path = tmp_path / "reviews.jsonl"
    path.write_text("\n".join(lines) + "\n\n")
    job = import_file(path)
    assert job.items_created == 4
    assert [(error["position"], error["message"]) for error in job.row_errors] == [
        ("line 3", "is not valid JSON: Expecting ',' delimiter"),
        ("line 4", "is a JSON list, not an object"),
    ]


def test_a_json_file_cut_short_keeps_the_items_before_the_break(tmp_path: Path) -> None:
    text = json.dumps(review_rows(2_500))
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) * 3 // 4])
    job = import_file(path)
    assert job.status == ImportStatus.FAILED
    assert "stops being valid JSON" in job.error
    assert job.items_created >= 1_000
    assert FeedbackItem.objects.count() == job.items_created
    assert job.source.last_sync_status == SyncStatus.PARTIAL


def test_rows_in_a_wrong_encoding_are_reported_and_the_right_encoding_imports_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "review_id,body\nr-1,Très bien\nr-2,plain ascii\nr-3,Déçu par la synchro\n".encode(
            "latin-1"
        )
    )
    mapping = ColumnMapping(text="body", external_id="review_id")
    source = make_source()
    as_utf8 = import_file(path, mapping, source)
    assert (as_utf8.items_created, as_utf8.rows_failed) == (1, 2)
    assert as_utf8.row_errors[0]["message"] == "has bytes that are not valid in the file's encoding"
    as_latin1 = import_file(path, mapping, source, encoding="latin-1")
    assert (as_latin1.items_created, as_latin1.duplicates) == (2, 1)
    assert FeedbackItem.objects.get(external_id="r-3").text == "Déçu par la synchro"


def test_it_reads_utf16_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("review_id\tbody\nr-1\tCafé crashes on start\n", encoding="utf-16")
    job = import_file(path, ColumnMapping(text="body", external_id="review_id"))
    assert job.items_created == 1
    assert FeedbackItem.objects.get().text == "Café crashes on start"


def test_a_row_with_the_wrong_number_of_fields_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text('review_id,body\nr-1,"fine"\nr-2,"too",many\n"r-3","multi\nline text"\n')
    job = import_file(path, ColumnMapping(text="body", external_id="review_id"))
    assert job.items_created == 2
    assert job.row_errors == [
        {"position": "row 2 (line 3)", "field": "row", "message": "has 3 fields; the header has 2"}
    ]
    assert FeedbackItem.objects.get(external_id="r-3").text == "multi\nline text"


def test_an_unclosed_quote_is_reported_at_its_row_and_the_rows_after_it_still_import(
    tmp_path: Path,
) -> None:
    path = tmp_path / "unclosed.csv"
    lines = ["review_id,body", 'r-1,"fine"', 'r-7,"a quoted field', 'on two lines"']
    lines += ['r-2,"the quote opens and never closes']
    lines += [f"r-{n},row {n} after it" for n in range(3, 7)]
    path.write_text("\n".join(lines) + "\n")
    job = import_file(path, ColumnMapping(text="body", external_id="review_id"))
    assert job.row_errors == [
        {"position": "row 3 (line 5)", "field": "row", "message": importers.UNCLOSED_QUOTE}
    ]
    assert sorted(FeedbackItem.objects.values_list("external_id", flat=True)) == [
        "r-1",
        "r-3",
        "r-4",
        "r-5",
        "r-6",
        "r-7",
    ]
    assert FeedbackItem.objects.get(external_id="r-7").text == "a quoted field\non two lines"
    assert FeedbackItem.objects.get(external_id="r-6").text == "row 6 after it"


def test_a_file_of_unclosed_quotes_is_read_in_linear_time_and_keeps_its_good_rows() -> None:
    # From every one of these lines a quote stays open to the end of the file: read again
    # and again, the rest of the file once went past Python's recursion limit.
    stray = ['a","'] * 2000
    good = [f"g-{n},a good row {n}" for n in range(5)]
    data = "\n".join(["review_id,body", *stray, *good]) + "\n"
    records = list(importers.read_csv(io.BytesIO(data.encode()), "utf-8"))
    unclosed = [r for r in records if r.error == importers.UNCLOSED_QUOTE]
    assert len(unclosed) == importers.MAX_QUOTE_RECOVERIES
    assert unclosed[0].position == "row 1 (line 2)"
    kept = {r.fields["review_id"]: r.fields["body"] for r in records if r.fields}
    assert all(kept[f"g-{n}"] == f"a good row {n}" for n in range(5))
    assert records[-1].position == f"row {len(stray) + len(good)} (line {len(stray) + 6})"


def test_a_quote_that_runs_over_rows_is_reported_where_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "runaway.csv"
    path.write_text('review_id,body\nr-1,"opens\nr-2,closes" here,and more\nr-3,fine\n')
    job = import_file(path, ColumnMapping(text="body", external_id="review_id"))
    assert job.row_errors == [
        {
            "position": "row 1 (line 2)",
            "field": "row",
            "message": (
                "has 3 fields; the header has 2 (it runs on to line 3: is a quote left open?)"
            ),
        }
    ]
    assert list(FeedbackItem.objects.values_list("external_id", flat=True)) == ["r-3"]


def test_an_interrupted_import_resumes_without_duplicates(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "reviews.csv", review_rows(3_500))
    source = make_source()
    job = create_import_job(source, path, original_name=path.name, item_kind="review")
    job.mapping = MAPPING.model_dump(mode="json")
    job.save()

    # Not an Exception: like a killed worker, it runs no error handling, and the job is left
    # running under its lease.
    class WorkerKilled(BaseException):
        pass

    def die_after_two_batches(progress: ImportJob) -> None:
        if progress.rows_done >= 2_000:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        run_import(job, on_progress=die_after_two_batches)
    interrupted = ImportJob.objects.get(pk=job.pk)
    assert (interrupted.status, interrupted.rows_done) == (ImportStatus.RUNNING, 2_000)
    # Its lease runs out, as the dead worker's would: the job may be taken again.
    ImportJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now())

    finished = run_import(interrupted)
    assert (finished.status, finished.rows_done, finished.items_created) == ("done", 3_500, 3_500)
    assert finished.duplicates == 0
    assert FeedbackItem.objects.count() == 3_500


def test_it_streams_a_file_instead_of_loading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Memory grows with the batch, not the file: small batches make the difference plain.
    monkeypatch.setattr(importers, "BATCH_SIZE", 100)
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["review_id", "body"])
        for n in range(4_000):
            writer.writerow([f"r-{n}", f"{n} " + "the reminders arrive late again. " * 120])
    size = path.stat().st_size
    tracemalloc.start()
    job = import_file(path, ColumnMapping(text="body", external_id="review_id"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert job.items_created == 4_000
    assert size > 15_000_000
    assert peak < size / 5


def test_it_rejects_a_file_it_cannot_tell_the_format_of(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(importers.ImportFileError, match=r"use \.csv, \.json or \.jsonl"):
        create_import_job(make_source(), path, original_name=path.name, item_kind="review")


def test_the_preview_lists_columns_and_first_rows(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    path.write_text(
        io.StringIO(
            "\n".join(json.dumps({"id": n, "user": {"name": f"u{n}"}}) for n in range(9))
        ).read()
    )
    columns, rows = importers.preview_file(path, "jsonl", "auto")
    assert columns == ["id", "user.name"]
    assert rows[1] == {"id": 1, "user.name": "u1"}
    assert len(rows) == 5


def test_the_import_task_is_safe_to_run_twice(tmp_path: Path) -> None:
    from ingestion.tasks import import_file as import_task

    path = write_csv(tmp_path / "reviews.csv", review_rows(20))
    job = create_import_job(make_source(), path, original_name=path.name, item_kind="review")
    job.mapping = MAPPING.model_dump(mode="json")
    job.status = ImportStatus.QUEUED
    job.save()
    (job_id,) = json.loads(json.dumps([job.pk]))  # task arguments travel as JSON
    import_task.run(job_id)
    import_task.run(job_id)
    job.refresh_from_db()
    assert (job.status, job.items_created, job.duplicates) == (ImportStatus.DONE, 20, 0)
    assert FeedbackItem.objects.count() == 20


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_a_nul_byte_in_a_short_field_past_the_first_block_is_cleaned_not_fatal(
    tmp_path: Path, file_format: str
) -> None:
    rows = review_rows(80)  # well past the 4 KB the preview and the encoding guess read
    rows[70]["headline"] = "Bad\x00title"
    rows[71]["review_id"] = "r-\x0071"
    path = tmp_path / f"nul.{file_format}"
    if file_format == "csv":
        write_csv(path, rows)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert path.stat().st_size > 4096
    job = import_file(path)
    assert (job.status, job.items_created, job.rows_failed) == (ImportStatus.DONE, 80, 0)
    assert FeedbackItem.objects.get(external_id="r-70").title == "Badtitle"
    assert FeedbackItem.objects.filter(external_id="r-71").exists()


def test_jsonl_lines_a_reader_cannot_hold_are_reported_one_by_one(tmp_path: Path) -> None:
    lines = [json.dumps(row) for row in review_rows(3)]
    lines.insert(1, '{"review_id": "big", "body": "x", "stars": 1' + "0" * 5000 + "}")
    lines.insert(2, '{"body": ' + "[" * 5000 + "]" * 5000 + "}")
    lines.insert(3, '{"review_id": "obj", "body": {"a": 1}}')
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(lines) + "\n")
    job = import_file(path)
    assert job.items_created == 3
    assert [(error["position"], error["field"]) for error in job.row_errors] == [
        ("line 2", "rating"),
        ("line 3", "row"),
        ("line 4", "text"),
    ]
