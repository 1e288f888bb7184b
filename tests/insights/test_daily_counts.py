"""The daily counts the dashboards read (insights.dashboards.daily_counts) against the items
counted one by one, under every filter, after each way the counted data changes: items
stored, a run's themes and sentiment, and each correction people make."""

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.http import QueryDict

from ingestion.importers import store_items
from ingestion.models import DataSource, FeedbackItem, ItemKind, Project
from ingestion.normalise import ItemDraft
from ingestion.ratings import RatingScale, format_rating
from insights.curation.corrections import (
    correct_item_sentiment,
    correct_theme_sentiment,
    merge_themes,
    move_item_to_theme,
)
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.dashboards.filters import TEN_POINT_SCALES, FeedbackFilters, rating_choices
from insights.dashboards.overview import (
    SentimentSplit,
    items_in_view,
    overview_counts,
    split_counts,
    theme_counts,
)
from insights.models import (
    DailyItemCount,
    DailyThemeCount,
    ItemSentiment,
    Theme,
    ThemeAssignment,
)
from tests.factories import add_items, make_theme, stand_in_model_version

pytestmark = pytest.mark.django_db

# Items at 02:00 UTC are on the day before in New York: days are cut in the site's zone.
SITE_ZONE = "America/New_York"
LABELS = ("negative", "neutral", "positive", "")


def store(source: DataSource, count: int, *, first: int = 0) -> list[FeedbackItem]:
    """Store count items in the source through ingestion, on days, hours and ratings that
    vary (every fifth undated; the ten-point source rates 0-10, the others 1-5 or not)."""
    ten_point = "Survey" in source.name
    drafts = []
    for number in range(first, first + count):
        text = f"{source.name} item {number}"
        when = datetime(2026, 10, 1, 2 + 10 * (number % 2), tzinfo=UTC) + timedelta(
            days=number % 40
        )
        rating = (number % 11 if ten_point else 1 + number % 5) if number % 3 else None
        drafts.append(
            ItemDraft(
                text=text,
                kind=source.item_kind,
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
                # Now and then half a point: rounded up to the next point.
                rating=None
                if rating is None
                else rating + (0.5 if number % 7 == 0 < 4 - rating else 0),
                created_at=None if number % 5 == 0 else when,
            )
        )
    store_items(source, drafts)
    return list(FeedbackItem.objects.filter(source=source).order_by("pk"))[first:]


def half_point(number: int, rating: int) -> float:
    """Now and then half a point (read as the point above), below 4 (5.5 would make the
    source's scale out of ten)."""
    return 0.5 if number % 7 == 0 and rating < 4 else 0.0


def analyse(items: list[FeedbackItem]) -> list[Theme]:
    """Write what a run writes: sentiment for most items, three themes of most items (some
    in two, some by a sentence with its own sentiment); then count, as a run does."""
    version = stand_in_model_version()
    ItemSentiment.objects.bulk_create(
        ItemSentiment(item=item, llm_model=version, prompt_version="v", predicted=LABELS[n % 3])
        for n, item in enumerate(items)
        if n % 8
    )
    project = items[0].source.project
    themes = [make_theme(name, project=project) for name in ("Crash", "Sync", "Price")]
    ThemeAssignment.objects.bulk_create(
        ThemeAssignment(
            item=item,
            theme=themes[n % 3],
            method="cluster",
            similarity=1 - n / 1000,
            unit_start=0 if n % 4 == 0 else None,
            unit_end=5 if n % 4 == 0 else None,
            sentiment=LABELS[(n + 1) % 4] if n % 4 == 0 else "",
        )
        for n, item in enumerate(items)
        if n % 10
    )
    ThemeAssignment.objects.bulk_create(
        ThemeAssignment(item=item, theme=themes[(n + 1) % 3], method="cluster")
        for n, item in enumerate(items)
        if n % 6 == 0 and n % 10
    )
    rebuild_daily_counts()
    return themes


def week_of(when: datetime | None) -> date | None:
    if when is None:
        return None
    day = when.astimezone(ZoneInfo(SITE_ZONE)).date()
    return day - timedelta(days=day.weekday())


def label_of(item: FeedbackItem) -> str:
    sentiment = ItemSentiment.objects.filter(item=item).first()
    return sentiment.label if sentiment else ""


def split_of(labels: Counter[str]) -> SentimentSplit:
    return SentimentSplit.of_labels(labels)


def counted_one_by_one(filters: FeedbackFilters) -> dict[str, Any]:
    """What the pages should show, from the items the live filters let through."""
    by_group: dict[tuple[Any, ...], Counter[str]] = {}
    by_theme_week: dict[tuple[Any, ...], Counter[str]] = {}
    items = filters.apply(FeedbackItem.objects.all())
    for item in items:
        own = label_of(item)
        key = (week_of(item.created_at), item.source_id, item.kind)
        by_group.setdefault(key, Counter())[own] += 1
        for assignment in ThemeAssignment.objects.filter(item=item):
            theme_key = (assignment.theme_id, week_of(item.created_at))
            toward = assignment.sentiment or own
            by_theme_week.setdefault(theme_key, Counter())[toward] += 1
    by_theme: dict[tuple[Any, ...], Counter[str]] = {}
    for (theme_id, week), labels in by_theme_week.items():
        by_theme.setdefault((theme_id, None), Counter()).update(labels)
        if week in (COMPARED_WEEK, COMPARED_WEEK - timedelta(weeks=1)):
            by_theme[(theme_id, week)] = labels
    return {
        "items": items.count(),
        "groups": {key: split_of(labels) for key, labels in by_group.items()},
        "themes": {key: split_of(labels) for key, labels in by_theme_week.items()},
        "compared": {key: split_of(labels) for key, labels in by_theme.items()},
    }


# The week the overview compares with the one before, in the tests' data.
COMPARED_WEEK = date(2026, 10, 12)


def counted_daily(filters: FeedbackFilters) -> dict[str, Any]:
    return {
        "items": items_in_view(filters),
        "groups": overview_counts(filters),
        "themes": split_counts(
            DailyThemeCount.objects.filter(filters.daily_condition()),
            ("theme", "week"),
            "toward_theme",
        ),
        "compared": theme_counts(filters, COMPARED_WEEK),
    }


def every_filter(sources: list[DataSource], projects: Sequence[Project] = ()) -> list[str]:
    """A query of each filter and of some together (by project only where several are)."""
    return [
        "",
        *(f"project={project.pk}" for project in projects),
        "start=2026-10-05",
        "end=2026-10-20",
        "start=2026-10-05&end=2026-10-05",
        f"source={sources[0].pk}",
        "kind=ticket",
        "sentiment=negative",
        "sentiment=positive&kind=review",
        "rating=4",
        "rating=1",
        "rating=none",
        *(["rating=7/10", "rating=0/10"] if any(rates_out_of_ten(s) for s in sources) else []),
    ]


def rates_out_of_ten(source: DataSource) -> bool:
    source.refresh_from_db()
    return source.scale_of_ratings in TEN_POINT_SCALES


def assert_counts_match(queries: list[str]) -> None:
    for query in queries:
        filters = FeedbackFilters(QueryDict(query))
        assert filters.values or not query, query  # every filter is valid
        assert counted_daily(filters) == counted_one_by_one(filters), query


@pytest.fixture
def workspace(settings: Any) -> dict[str, Any]:
    settings.TIME_ZONE = SITE_ZONE
    projects = [Project.objects.create(name="Budget app"), Project.objects.create(name="Survey")]
    sources = [
        DataSource.objects.create(name="App Store", project=projects[0]),
        DataSource.objects.create(name="Help desk", item_kind=ItemKind.TICKET, project=projects[0]),
        DataSource.objects.create(name="Survey answers", project=projects[1]),
    ]
    items = [item for source in sources for item in store(source, 60)]
    themes = analyse([item for item in items if item.source.project == projects[0]])
    return {"projects": projects, "sources": sources, "items": items, "themes": themes}


def test_stored_items_are_counted_as_they_are_stored(settings: Any) -> None:
    settings.TIME_ZONE = SITE_ZONE
    source = DataSource.objects.create(name="App Store")
    store(source, 30)
    store(source, 30, first=30)  # more items, some on the same days as before
    # The second store's counts are rows beside the first's: not a recount of their days.
    assert max(rows_per_group().values()) > 1
    assert_counts_match(every_filter([source]))

    rebuild_daily_counts()
    assert set(rows_per_group().values()) == {1}
    assert_counts_match(every_filter([source]))


def rows_per_group() -> Counter[tuple[Any, ...]]:
    groups = ("day", "source", "kind", "rating_point", "sentiment")
    return Counter(DailyItemCount.objects.values_list(*groups))


def test_the_counts_match_the_items_after_a_run(workspace: dict[str, Any]) -> None:
    assert_counts_match(every_filter(workspace["sources"], workspace["projects"]))
    # Not counted by chance: the filters and the themes tell apart what they should.
    whole = counted_daily(FeedbackFilters(QueryDict("")))
    assert whole["items"] == 180
    assert len({key[0] for key in whole["themes"]}) == 3
    assert DailyItemCount.objects.filter(day__isnull=True).exists()


def test_the_counts_follow_each_correction(workspace: dict[str, Any]) -> None:
    person = User.objects.create_user("pat")
    items, (crash, sync, price) = workspace["items"], workspace["themes"]
    by_sentence = ThemeAssignment.objects.filter(unit_start__isnull=False, theme=sync).first()
    assert by_sentence is not None

    correct_item_sentiment(items[1], "positive", person)
    correct_item_sentiment(items[2], "negative", person)
    correct_theme_sentiment(by_sentence, "positive", person)
    move_item_to_theme(items[3], price, person)
    merge_themes(sync, crash, person)
    assert_counts_match(every_filter(workspace["sources"], workspace["projects"]))

    more = store(workspace["sources"][1], 20, first=60)  # stored after the run
    assert len(more) == 20
    assert_counts_match(every_filter(workspace["sources"], workspace["projects"]))


def test_a_csat_source_is_filtered_out_of_five_as_stars_are() -> None:
    stars = DataSource.objects.create(name="App Store")
    survey = DataSource.objects.create(name="Survey", rating_scale=RatingScale.CSAT)
    add_items("fine", source=stars, rating=4)
    add_items("helpful", source=survey, rating=4)
    add_items("slow", source=survey, rating=2)
    four = FeedbackFilters({"rating": "4"})
    assert items_in_view(four) == FeedbackItem.objects.filter(four.condition()).count() == 2
    assert format_rating(4, RatingScale.CSAT) == "4/5"
    # Where no source rates in stars, the choices are written out of five.
    assert ("4", "4/5") in rating_choices({RatingScale.CSAT})
    assert ("4", "4★") in rating_choices({RatingScale.CSAT, RatingScale.STARS})
