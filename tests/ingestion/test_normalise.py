from datetime import UTC, datetime

import pytest

from ingestion.normalise import (
    ColumnMapping,
    RowError,
    build_draft,
    clean_text,
    content_hash,
    parse_datetime,
    parse_rating,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MAPPING = ColumnMapping(text="text", created_at="date", rating="stars", external_id="id")


def test_it_cleans_text_to_one_form() -> None:
    assert clean_text("  Cafe\u0301\r\n\r\n\r\n\r\nis\t\t  slow\x07  ") == "Café\n\nis slow"


def test_it_treats_case_and_spacing_as_the_same_item() -> None:
    moment = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert content_hash("Sync is  BROKEN", moment) == content_hash("sync is broken", moment)
    assert content_hash("sync is broken", moment) != content_hash("sync is broken", None)
    assert content_hash("sync is broken", moment) != content_hash("sync is fixed", moment)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-05T09:12:00Z", datetime(2026, 10, 5, 9, 12, tzinfo=UTC)),
        ("2026-10-05 09:12", datetime(2026, 10, 5, 9, 12, tzinfo=UTC)),
        ("Oct 5, 2026 9:12 AM", datetime(2026, 10, 5, 9, 12, tzinfo=UTC)),
        (1791191520, datetime(2026, 10, 5, 9, 12, tzinfo=UTC)),
        ("1791191520000", datetime(2026, 10, 5, 9, 12, tzinfo=UTC)),
    ],
)
def test_it_reads_common_date_forms(value: object, expected: datetime) -> None:
    assert parse_datetime(value, MAPPING, NOW) == expected


def test_it_applies_the_mapping_time_zone_and_format() -> None:
    mapping = ColumnMapping(
        text="text", date_format="%m/%d/%Y %H:%M", timezone="America/Los_Angeles"
    )
    moment = parse_datetime("2/24/2015 11:35", mapping, NOW)
    assert moment == datetime(2015, 2, 24, 19, 35, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("32/13/2015", "is not a date"),
        ("March 5", "has no year"),
        ("2031-01-01", "is in the future"),
    ],
)
def test_it_rejects_bad_dates_with_a_reason(value: str, message: str) -> None:
    with pytest.raises(RowError, match=message) as error:
        parse_datetime(value, MAPPING, NOW)
    assert error.value.field_name == "created_at"


def test_it_rejects_a_date_that_does_not_match_the_given_format() -> None:
    mapping = ColumnMapping(text="text", date_format="%d.%m.%Y")
    with pytest.raises(RowError, match="does not match the format"):
        parse_datetime("2015-02-24", mapping, NOW)


@pytest.mark.parametrize(("value", "expected"), [("4", 4.0), ("4,5", 4.5), ("3/5", 3.0), (2, 2.0)])
def test_it_reads_ratings(value: object, expected: float) -> None:
    assert parse_rating(value) == expected


@pytest.mark.parametrize("value", ["great", "11", True])
def test_it_rejects_ratings_that_are_not_a_score(value: object) -> None:
    with pytest.raises(RowError):
        parse_rating(value)


def test_it_builds_a_draft_and_names_the_failing_field() -> None:
    record = {"text": " Bank sync fails ", "date": "2026-10-05", "stars": "2", "id": "r-9"}
    draft = build_draft(record, MAPPING, "review", max_chars=100, now=NOW)
    assert (draft.text, draft.rating, draft.external_id) == ("Bank sync fails", 2.0, "r-9")
    with pytest.raises(RowError) as empty:
        build_draft({**record, "text": "  \n "}, MAPPING, "review", max_chars=100, now=NOW)
    assert (empty.value.field_name, empty.value.message) == ("text", "is empty")
    with pytest.raises(RowError, match="the limit is 100"):
        build_draft({**record, "text": "x" * 101}, MAPPING, "review", max_chars=100, now=NOW)


def test_it_reaches_into_nested_json_with_dotted_columns() -> None:
    mapping = ColumnMapping(text="review.body", author="user.name", metadata=("user.country",))
    record = {"review": {"body": "Too many reminders"}, "user": {"name": "kim", "country": "NZ"}}
    draft = build_draft(record, mapping, "review", max_chars=100, now=NOW)
    assert (draft.text, draft.author_handle) == ("Too many reminders", "kim")
    assert draft.metadata == {"user.country": "NZ"}


def test_it_cuts_an_over_long_title_and_says_so() -> None:
    record = {"text": "ok", "title": "t" * 600}
    draft = build_draft(
        record, ColumnMapping(text="text", title="title"), "review", max_chars=9, now=NOW
    )
    assert len(draft.title) == 500
    assert draft.metadata["truncated_fields"] == ["title"]
