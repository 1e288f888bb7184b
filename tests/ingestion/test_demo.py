"""The demo feedback generator: record shape, determinism, and the ground truth it promises.

Analysis code is tested on this data, so the statistical promises (themes, sentiment mix, the
rising theme) are checked here on a fixed seed and end date, where they cannot flake.
"""

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ingestion.demo.generator import DEMO_SOURCES, ITEM_KINDS, RISING_THEME, generate_demo_feedback

END = date(2025, 6, 1)  # a Sunday
WEEKS = 8
ITEMS_PER_WEEK = 180
WINDOW_START = END - timedelta(days=7 * WEEKS - 1)
RECORD_KEYS = {
    "source",
    "kind",
    "external_id",
    "text",
    "title",
    "author",
    "rating",
    "created_at",
    "metadata",
}
REPO_ROOT = Path(__file__).resolve().parents[2]

Record = dict[str, object]


@pytest.fixture(scope="module", params=[7, 2024], ids=lambda seed: f"seed{seed}")
def records(request: pytest.FixtureRequest) -> list[Record]:
    return list(generate_demo_feedback(seed=request.param, weeks=WEEKS, end=END))


def _meta(record: Record) -> dict[str, object]:
    metadata = record["metadata"]
    assert isinstance(metadata, dict)
    return metadata


def _share(items: list[Record], key: str, value: str) -> float:
    return sum(_meta(item)[key] == value for item in items) / len(items)


def _created(record: Record) -> datetime:
    created_at = record["created_at"]
    assert isinstance(created_at, datetime)
    return created_at


def _week(record: Record) -> int:
    """0 for the first week of the window, WEEKS - 1 for the last."""
    return (_created(record).date() - WINDOW_START).days // 7


def test_same_seed_gives_the_same_records() -> None:
    first = list(generate_demo_feedback(seed=11, weeks=3, end=END))
    second = list(generate_demo_feedback(seed=11, weeks=3, end=END))
    assert first == second


def test_another_seed_gives_other_records() -> None:
    first = list(generate_demo_feedback(seed=11, weeks=3, end=END))
    other = list(generate_demo_feedback(seed=12, weeks=3, end=END))
    assert [r["text"] for r in first] != [r["text"] for r in other]
    assert [r["created_at"] for r in first] != [r["created_at"] for r in other]


def test_records_have_exactly_the_promised_keys_and_types(records: list[Record]) -> None:
    for record in records:
        assert set(record) == RECORD_KEYS
        for key in ("source", "kind", "external_id", "text", "title", "author"):
            assert isinstance(record[key], str), key
        assert record["text"] and record["external_id"] and record["author"]
        assert isinstance(record["created_at"], datetime)
        assert {"demo_theme", "demo_sentiment"} <= set(_meta(record))
        json.dumps(record["metadata"])  # stored in a JSONField


def test_texts_are_fully_filled_in(records: list[Record]) -> None:
    """No slot or wording choice from a template may leak into what users read."""
    for record in records:
        for field in ("text", "title"):
            value = str(record[field])
            assert not any(mark in value for mark in "{}|"), value
            assert value == value.strip()


def test_sources_are_one_per_kind_and_records_follow_them(records: list[Record]) -> None:
    assert len(DEMO_SOURCES) == 3
    assert sorted(source.item_kind for source in DEMO_SOURCES) == sorted(ITEM_KINDS)
    assert len({source.name for source in DEMO_SOURCES}) == 3
    kind_of_source = {source.name: source.item_kind for source in DEMO_SOURCES}
    for record in records:
        assert kind_of_source[str(record["source"])] == record["kind"]
    assert {record["kind"] for record in records} == set(ITEM_KINDS)


def test_only_reviews_have_ratings_and_titles_follow_the_kind(records: list[Record]) -> None:
    for record in records:
        if record["kind"] == "review":
            assert record["rating"] in {1, 2, 3, 4, 5}
            assert type(record["rating"]) is int
            assert record["title"]
        elif record["kind"] == "ticket":
            assert record["rating"] is None
            assert record["title"]
        else:
            assert record["rating"] is None
            assert record["title"] == ""


def test_ratings_follow_sentiment_but_not_perfectly(records: list[Record]) -> None:
    reviews = [r for r in records if r["kind"] == "review"]
    by_sentiment: dict[str, list[int]] = {}
    for review in reviews:
        rating = review["rating"]
        assert isinstance(rating, int)
        by_sentiment.setdefault(str(_meta(review)["demo_sentiment"]), []).append(rating)
    mean = {sentiment: sum(r) / len(r) for sentiment, r in by_sentiment.items()}
    assert mean["positive"] > mean["neutral"] + 0.5
    assert mean["neutral"] > mean["negative"] + 0.5
    # Some unhappy people still give 3 stars or more.
    assert any(rating >= 3 for rating in by_sentiment["negative"])


def test_created_at_is_aware_utc_inside_the_window_and_in_order(records: list[Record]) -> None:
    stamps = [_created(record) for record in records]
    for stamp in stamps:
        assert stamp.utcoffset() == timedelta(0)
        assert stamp.tzinfo is UTC
        assert WINDOW_START <= stamp.date() <= END
    assert stamps == sorted(stamps)
    # Every week and every day of the week has feedback.
    assert {_week(record) for record in records} == set(range(WEEKS))
    assert {stamp.weekday() for stamp in stamps} == set(range(7))


def test_times_of_day_are_spread_like_real_traffic(records: list[Record]) -> None:
    hours = Counter(_created(record).hour for record in records)
    assert len(hours) >= 20
    # Mostly American users: US daytime (UTC afternoon) is busier than the US night.
    assert sum(hours[h] for h in range(14, 20)) > 2 * sum(hours[h] for h in range(5, 11))


def test_default_end_is_the_last_sunday_before_today() -> None:
    def last_sunday() -> date:
        today = date.today()
        return today - timedelta(days=today.weekday() + 1)

    before = last_sunday()
    records = list(generate_demo_feedback(weeks=1, items_per_week=60))
    after = last_sunday()  # the same, unless midnight passed during the call
    dates = {_created(record).date() for record in records}
    assert any(
        all(sunday - timedelta(days=6) <= day <= sunday for day in dates)
        for sunday in (before, after)
    )
    assert before.weekday() == 6
    assert before < date.today()


def test_external_ids_are_unique_and_shaped_by_kind(records: list[Record]) -> None:
    ids = [record["external_id"] for record in records]
    assert len(ids) == len(set(ids))
    prefixes = {"review": "rev-", "ticket": "TCK-", "social_post": "post-"}
    for record in records:
        assert str(record["external_id"]).startswith(prefixes[str(record["kind"])])


def test_kind_specific_metadata(records: list[Record]) -> None:
    for record in records:
        meta = _meta(record)
        assert meta["demo_sentiment"] in {"positive", "negative", "neutral"}
        if record["kind"] == "review":
            assert meta["platform"] in {"ios", "android"}
            assert str(meta["app_version"]).startswith("5.")
        elif record["kind"] == "ticket":
            assert meta["channel"] and meta["priority"] in {"low", "normal", "high", "urgent"}
            assert meta["platform"] in {"ios", "android", "web"}
        else:
            assert meta["platform"] and isinstance(meta["likes"], int) and meta["likes"] >= 0


def test_texts_are_shaped_by_kind(records: list[Record]) -> None:
    def mean_length(kind: str) -> float:
        texts = [str(r["text"]) for r in records if r["kind"] == kind]
        return sum(map(len, texts)) / len(texts)

    assert mean_length("ticket") > mean_length("review") > mean_length("social_post")
    posts = [str(r["text"]) for r in records if r["kind"] == "social_post"]
    assert all(len(text) <= 280 for text in posts)
    assert sum("@" in text or "#" in text for text in posts) / len(posts) > 0.4


def test_at_least_eight_themes_each_with_three_percent(records: list[Record]) -> None:
    shares = Counter(str(_meta(record)["demo_theme"]) for record in records)
    themes = {theme: count / len(records) for theme, count in shares.items() if theme != "other"}
    assert 8 <= len(themes) <= 10
    assert all(share >= 0.03 for share in themes.values()), themes
    # Off-topic noise is present but small.
    assert 0.01 <= shares["other"] / len(records) <= 0.08


def test_few_exact_duplicate_texts(records: list[Record]) -> None:
    counts = Counter(record["text"] for record in records)
    duplicates = sum(count - 1 for count in counts.values())
    assert duplicates / len(records) <= 0.02


def test_rising_theme_grows_sharply_in_the_last_two_weeks(records: list[Record]) -> None:
    def share(weeks: range) -> float:
        items = [record for record in records if _week(record) in weeks]
        return _share(items, "demo_theme", RISING_THEME)

    early, late = share(range(4)), share(range(WEEKS - 2, WEEKS))
    assert early < 0.03
    assert late > 0.15
    assert late >= 5 * early
    for record in records:
        if _meta(record)["demo_theme"] == RISING_THEME:
            assert str(_meta(record)["app_version"]).startswith("5.2")


def test_sentiment_mix(records: list[Record]) -> None:
    negative = _share(records, "demo_sentiment", "negative")
    positive = _share(records, "demo_sentiment", "positive")
    neutral = _share(records, "demo_sentiment", "neutral")
    assert 0.45 <= negative <= 0.60
    assert 0.20 <= positive <= 0.30
    assert neutral == pytest.approx(1 - negative - positive)
    assert neutral >= 0.10
    reviews = [r for r in records if r["kind"] == "review"]
    tickets = [r for r in records if r["kind"] == "ticket"]
    assert _share(reviews, "demo_sentiment", "positive") > _share(
        tickets, "demo_sentiment", "positive"
    )


def test_default_volume_is_weeks_times_items_per_week(records: list[Record]) -> None:
    assert len(records) == pytest.approx(WEEKS * ITEMS_PER_WEEK, rel=0.05)


@pytest.mark.parametrize(("weeks", "items_per_week"), [(1, 20), (3, 50), (12, 100)])
def test_volume_follows_the_arguments(weeks: int, items_per_week: int) -> None:
    records = list(
        generate_demo_feedback(seed=1, weeks=weeks, end=END, items_per_week=items_per_week)
    )
    assert len(records) == pytest.approx(weeks * items_per_week, rel=0.08)
    weeks_before_end = {(END - _created(record).date()).days // 7 for record in records}
    assert weeks_before_end == set(range(weeks))


def test_no_items_when_asked_for_none() -> None:
    assert list(generate_demo_feedback(end=END, items_per_week=0)) == []


@pytest.mark.parametrize("arguments", [{"weeks": 0}, {"weeks": -1}, {"items_per_week": -5}])
def test_bad_arguments_are_refused(arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        list(generate_demo_feedback(end=END, **arguments))


def test_module_is_pure_python_without_django() -> None:
    """`make demo` data must be producible without Django set up: the module imports none."""
    code = (
        "import sys, ingestion.demo.generator; "
        "sys.exit(any(name.split('.')[0] == 'django' for name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=False)
    assert result.returncode == 0
