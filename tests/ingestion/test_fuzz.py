"""Fuzzing the ways items come in: whatever a client or a file holds, nothing answers 500,
every valid item is stored exactly once and every invalid one is reported."""

import itertools
import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.importers import run_import
from ingestion.jobs import create_import_job
from ingestion.models import DataSource, FeedbackItem, ImportStatus
from ingestion.normalise import ColumnMapping

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Unicode of every kind, lone surrogates and control characters included.
ODD_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | ODD_TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ODD_TEXT, inner, max_size=3),
    max_leaves=12,
)
SOURCE_NUMBERS = itertools.count()
FIELDS = ("id", "title", "author", "rating", "created_at", "language", "kind", "metadata")
ITEMS = st.fixed_dictionaries(
    {"text": ODD_TEXT | VALUES}, optional={name: VALUES for name in FIELDS}
)


def as_json(value: object) -> str:
    """JSON as a careless client writes it: NaN and Infinity bare, surrogates escaped."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


@pytest.fixture
def source() -> DataSource:
    return DataSource.objects.create(name="Fuzz", kind="webhook", item_kind="review")


@FUZZ
@given(items=st.lists(ITEMS, min_size=1, max_size=6))
def test_the_webhook_stores_each_valid_item_once_and_reports_the_rest(
    source: DataSource, items: list[dict]
) -> None:
    token = source.rotate_webhook_token()
    before = FeedbackItem.objects.count()
    response = Client().post(
        reverse("ingestion:webhook", args=[source.pk]),
        data=as_json(items),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (200, 207, 422)
    answer = response.json()
    assert answer["received"] == len(items)
    assert answer["created"] + answer["duplicates"] + len(answer["errors"]) == len(items)
    assert FeedbackItem.objects.count() - before == answer["created"]
    assert (response.status_code == 422) == (len(answer["errors"]) == len(items))


@FUZZ
@given(data=st.binary(max_size=2000), file_format=st.sampled_from(["csv", "jsonl", "json"]))
def test_an_import_of_any_bytes_finishes_and_accounts_for_every_row(
    tmp_path: Path, data: bytes, file_format: str
) -> None:
    path = tmp_path / f"upload.{file_format}"
    path.write_bytes(b"text,author,id\n" + data if file_format == "csv" else data)
    source = DataSource.objects.create(name=f"Fuzz file {next(SOURCE_NUMBERS)}")
    job = create_import_job(source, path, original_name=path.name, item_kind="review")
    job.mapping = ColumnMapping(text="text", author="author", external_id="id").model_dump()
    job.save()
    job = run_import(job)
    assert job.status in (ImportStatus.DONE, ImportStatus.FAILED)
    assert FeedbackItem.objects.filter(source=source).count() == job.items_created
    if job.status == ImportStatus.DONE:
        assert job.items_created + job.duplicates + job.rows_failed <= job.rows_done
