"""Live themes (Theme.objects.live, Theme.is_live) and the aggregates behind the theme list
and a theme's page (insights.dashboards.theme_stats)."""

import pytest
from django.http import QueryDict

from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.theme_stats import split_parts, theme_detail, theme_list
from insights.models import ItemSentiment, Theme
from tests.factories import EMBEDDING_MODEL, make_theme
from tests.insights.test_theme_pages import add_item

pytestmark = pytest.mark.django_db


def filters(query: str = "") -> FeedbackFilters:
    return FeedbackFilters(QueryDict(query))


def test_live_themes_leave_out_retired_and_merged_ones() -> None:
    for name, status in [("Open", "active"), ("Fixed", "resolved"), ("Noise", "ignored")]:
        make_theme(name, [], status=status)
    make_theme("Gone", [], status="retired")
    make_theme("Merged away", [], merged_into=Theme.objects.get(name="Open"))
    Theme.objects.filter(pk=make_theme("Other model", []).pk).update(embedding_model="another")

    live = {theme.name for theme in Theme.objects.live()}
    assert live == {"Open", "Fixed", "Noise", "Other model"}
    assert {theme.name for theme in Theme.objects.live(EMBEDDING_MODEL)} == live - {"Other model"}
    assert {theme.name for theme in Theme.objects.all() if theme.is_live} == live


def test_the_theme_list_counts_open_themes_within_the_filters() -> None:
    crash = make_theme(
        "Crash",
        [add_item("crash 1", 2, label="negative"), add_item("crash 2", 20, label="negative")],
    )
    make_theme("Fixed", [add_item("fixed", 3, label="positive")], status="resolved")
    add_item("in no theme", 4)

    listing = theme_list(filters("end=2026-11-10"))
    assert listing.total == 3  # the filtered items, those in no theme too
    assert [(row["theme"], row["count"], row["percent"]) for row in listing.rows] == [
        (crash, 1, 33.3)
    ]
    closed_too = theme_list(filters(), show_closed=True)
    assert [(row["theme"].name, row["count"]) for row in closed_too.rows] == [
        ("Crash", 2),
        ("Fixed", 1),
    ]


def test_a_themes_detail_counts_its_undated_items_with_the_weekly_ones() -> None:
    undated = add_item("no date", label="neutral")
    undated.created_at = None
    undated.save()
    items = [add_item("one", 2, label="negative"), add_item("two", 9), undated]
    theme = make_theme("Sync", items)
    add_item("elsewhere", 3)

    detail = theme_detail(theme, filters())
    assert (detail.split.total, detail.split.negative, detail.split.neutral) == (3, 1, 1)
    assert detail.split.not_analysed == 1
    assert detail.percent == 75.0
    assert [row["total"] for row in detail.weeks] == [1, 1]
    assert detail.undated == 1
    assert list(detail.items) == items  # nearest the centre first


def test_a_split_is_shown_label_by_label_as_the_registry_lists_them() -> None:
    theme = make_theme("Sync", [add_item(f"sync {n}", label="negative") for n in range(3)])
    ItemSentiment.objects.filter(item__text="sync 0").update(corrected="positive")
    add_item("not scored", 5)

    parts = split_parts(theme_detail(theme, filters()).split)
    assert [(p["label"], p["name"], p["count"], p["percent"]) for p in parts] == [
        ("negative", "negative", 2, 66.7),
        ("neutral", "neutral", 0, 0.0),
        ("positive", "positive", 1, 33.3),
        ("unscored", "not analysed", 0, 0.0),
    ]
