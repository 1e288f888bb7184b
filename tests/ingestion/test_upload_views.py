from html import escape
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from feedlens.jobs import QUEUE_UNREACHABLE
from ingestion.models import DataSource, FeedbackItem, ImportJob, ImportStatus
from ingestion.presets import PRESETS
from tests.conftest import wait_until

FIXTURES = Path(__file__).parent.parent / "fixtures"


def upload(client: Client, path: Path, **fields: object) -> object:
    with path.open("rb") as file:
        data = {"item_kind": "social_post", "encoding": "auto", "file": file, **fields}
        return client.post(reverse("ingestion:upload"), data)


def finished_job(client: Client, job: ImportJob) -> dict:
    url = reverse("ingestion:import_job_status", args=[job.pk])
    wait_until(lambda: client.get(url).json()["finished"], message="the import did not finish")
    return client.get(url).json()


@pytest.mark.django_db(transaction=True)
def test_an_upload_is_mapped_queued_and_imported_by_the_worker(
    importer_client: Client, celery_worker: str, datasets_dir: Path
) -> None:
    tweets = datasets_dir / PRESETS["airline_tweets"].dataset_file
    response = upload(importer_client, tweets, new_source_name="Airline tweets")
    job = ImportJob.objects.get()
    assert response.url == reverse("ingestion:mapping", args=[job.pk])

    page = importer_client.get(response.url)
    assert page.status_code == 200
    assert page.context["columns"][:2] == ["tweet_id", "airline_sentiment"]
    assert page.context["form"].initial["preset"] == "airline_tweets"

    queued = importer_client.post(
        response.url, {"preset": "airline_tweets", "text": "text", "timezone": "UTC"}
    )
    assert queued.url == reverse("ingestion:import_job", args=[job.pk])
    status = finished_job(importer_client, job)
    assert (status["status"], status["items_created"], status["duplicates"]) == (
        "done",
        14_485,
        155,
    )
    assert FeedbackItem.objects.filter(source__name="Airline tweets").count() == 14_485

    upload(importer_client, tweets, source=DataSource.objects.get().pk)
    again = ImportJob.objects.exclude(pk=job.pk).get()
    importer_client.post(
        reverse("ingestion:mapping", args=[again.pk]),
        {"preset": "airline_tweets", "text": "text", "timezone": "UTC"},
    )
    status = finished_job(importer_client, again)
    assert (status["items_created"], status["duplicates"]) == (0, 14_640)
    assert FeedbackItem.objects.count() == 14_485


@pytest.mark.django_db(transaction=True)
def test_a_hand_made_mapping_imports_the_chosen_columns(
    importer_client: Client, celery_worker: str
) -> None:
    upload(importer_client, FIXTURES / "reviews.csv", new_source_name="Reviews", item_kind="review")
    job = ImportJob.objects.get()
    mapping = {
        "text": "body",
        "created_at": "posted",
        "rating": "stars",
        "external_id": "review_id",
        "title": "",
        "author": "user",
        "language": "",
        "metadata": ["headline"],
        "timezone": "Europe/Paris",
    }
    importer_client.post(reverse("ingestion:mapping", args=[job.pk]), mapping)
    assert finished_job(importer_client, job)["items_created"] == 5
    item = FeedbackItem.objects.get(external_id="r-1")
    assert (item.author_handle, item.metadata, item.title) == ("ana", {"headline": "Love it"}, "")
    assert item.created_at.isoformat() == "2026-10-05T07:12:00+00:00"


@pytest.mark.django_db
def test_the_import_page_shows_progress_and_row_errors(importer_client: Client) -> None:
    source = DataSource.objects.create(name="S")
    job = ImportJob.objects.create(
        source=source,
        file_path="/nowhere.csv",
        original_name="x.csv",
        file_format="csv",
        item_kind="review",
        status=ImportStatus.RUNNING,
        bytes_total=200,
        bytes_done=50,
        row_errors=[{"position": "row 7 (line 8)", "field": "text", "message": "is empty"}],
        rows_failed=1,
    )
    page = importer_client.get(reverse("ingestion:import_job", args=[job.pk]))
    assert b'value="25"' in page.content
    assert b"row 7 (line 8)" in page.content
    status = importer_client.get(reverse("ingestion:import_job_status", args=[job.pk])).json()
    assert (status["percent"], status["finished"], status["rows_failed"]) == (25, False, 1)


@pytest.mark.django_db
def test_it_refuses_a_file_that_is_not_csv_or_json(importer_client: Client, tmp_path: Path) -> None:
    response = importer_client.post(
        reverse("ingestion:upload"),
        {
            "new_source_name": "S",
            "item_kind": "review",
            "encoding": "auto",
            "file": SimpleUploadedFile("notes.txt", b"hello"),
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["Upload a .csv, .json or .jsonl file."]
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_the_mapping_page_says_when_a_file_cannot_be_read(importer_client: Client) -> None:
    response = importer_client.post(
        reverse("ingestion:upload"),
        {
            "new_source_name": "S",
            "item_kind": "review",
            "encoding": "auto",
            "file": SimpleUploadedFile("utf16.csv", b"a\x00b\x00,\x00c\x00"),
        },
    )
    page = importer_client.get(response.url)
    assert "it looks like UTF-16 without a byte-order mark" in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("encoding", "says"),
    [
        ("zlib_codec", "'zlib_codec' is not a text encoding"),
        ("base64", "'base64' is not a text encoding"),
        ("punycode", "cannot read the file as 'punycode'"),
        ("idna", "cannot read the file as 'idna'"),
        ("no-such-codec", "unknown encoding 'no-such-codec'"),
    ],
)
def test_an_encoding_that_cannot_read_text_is_refused_on_the_mapping_page(
    importer_client: Client, encoding: str, says: str
) -> None:
    response = importer_client.post(
        reverse("ingestion:upload"),
        {
            "new_source_name": "S",
            "item_kind": "review",
            "encoding": encoding,
            "file": SimpleUploadedFile("r.csv", "text\nTrès déçu\n".encode()),
        },
    )
    page = importer_client.get(response.url)
    assert page.status_code == 200
    assert escape(says) in page.content.decode()


@pytest.mark.django_db
def test_people_without_the_import_permission_cannot_import(client: Client) -> None:
    client.force_login(User.objects.create_user("visitor"))
    assert client.get(reverse("ingestion:upload")).status_code == 403


@pytest.mark.django_db
def test_anonymous_people_are_sent_to_log_in(client: Client) -> None:
    response = client.get(reverse("ingestion:upload"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_an_import_the_task_queue_cannot_take_fails_with_the_reason_on_its_page(
    importer_client: Client, broker_down: str, django_capture_on_commit_callbacks: object
) -> None:
    upload(importer_client, FIXTURES / "reviews.csv", new_source_name="Reviews", item_kind="review")
    job = ImportJob.objects.get()
    mapping = {"text": "body", "external_id": "review_id", "timezone": "UTC"}
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = importer_client.post(reverse("ingestion:mapping", args=[job.pk]), mapping)
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.error) == (ImportStatus.FAILED, QUEUE_UNREACHABLE)
    page = importer_client.get(response.url).content.decode()
    assert "Could not start: the task queue is unreachable." in page


@pytest.mark.django_db(transaction=True)
def test_a_csat_column_is_mapped_as_ratings_on_its_own_scale(
    importer_client: Client, celery_worker: str, tmp_path: Path
) -> None:
    survey = tmp_path / "survey.csv"
    survey.write_text("comment,CSAT,plan\nSlow checkout,2,pro\nQuick answer,5,free\n")
    upload(importer_client, survey, new_source_name="Survey", item_kind="ticket")
    job = ImportJob.objects.get()
    page = importer_client.get(reverse("ingestion:mapping", args=[job.pk])).content.decode()
    # The column named CSAT is guessed as the rating, and says its scale.
    assert '<option value="CSAT" selected>' in page
    assert '<option value="csat" selected>' in page

    mapping = {"text": "comment", "rating": "CSAT", "rating_scale": "csat", "metadata": ["plan"]}
    importer_client.post(
        reverse("ingestion:mapping", args=[job.pk]), {**mapping, "timezone": "UTC"}
    )

    assert finished_job(importer_client, job)["items_created"] == 2
    source = DataSource.objects.get(name="Survey")
    assert source.rating_scale == "csat"
    slow = FeedbackItem.objects.get(text="Slow checkout")
    assert (slow.rating, source.format_rating(slow.rating)) == (2.0, "2/5")
