"""Segments from any metadata (issue 22): metadata fields with few values become a filter on
every page and a breakdown on theme pages, with the values a theme over-represents beyond
chance, corrected for the values tried; ids and free text are left out."""

import csv
import io
from datetime import UTC, date, datetime
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from ingestion.models import FeedbackItem
from insights.dashboards.daily_counts import count_stored_items, segment_fields
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.overview import items_in_view, splits_by_theme
from insights.dashboards.segments import theme_segments
from insights.models import DailySegmentCount, DailyThemeSegmentCount, Theme
from insights.reports.content import build_report
from insights.reports.period import Period
from insights.reports.render_csv import themes_csv
from insights.reports.render_html import report_html
from insights.segments import SegmentShare, over_represented
from tests.factories import add_items, make_theme

WHEN = datetime(2026, 11, 3, 12, tzinfo=UTC)


def test_a_value_over_represented_beyond_chance_is_found_with_its_lift() -> None:
    (found,) = over_represented([SegmentShare("metadata:platform", "Android", 57, 70, 0.25)])
    assert found.lift == pytest.approx(57 / 70 / 0.25)
    assert (
        found.describe() == "platform Android: 3.3\N{MULTIPLICATION SIGN} the usual share, 57 items"
    )
    # In proportion to all feedback, or too few items to tell: nothing.
    assert over_represented([SegmentShare("plan", "pro", 20, 70, 0.3)]) == []
    assert over_represented([SegmentShare("plan", "pro", 2, 2, 0.01)]) == []


def test_the_test_is_corrected_for_every_value_tried() -> None:
    borderline = SegmentShare("metadata:country", "NZ", 6, 40, 0.05)  # p about 0.014 alone
    assert [share.value for share in over_represented([borderline])] == ["NZ"]
    in_proportion = [SegmentShare("metadata:country", f"C{n}", 4, 40, 0.1) for n in range(19)]
    # Among twenty values tried, one p of 0.014 is what chance gives.
    assert over_represented([borderline, *in_proportion]) == []


@pytest.fixture
def feedback() -> dict[str, list[FeedbackItem]]:
    """Crash reports mostly from Android 4.2.0, and other feedback from every platform;
    every item has its own order id."""
    orders = iter(range(10_000))

    def items(text: str, count: int, **metadata: object) -> list[FeedbackItem]:
        return [
            add_items(f"{text} {n}", when=WHEN, metadata={**metadata, "order": next(orders)})[0]
            for n in range(count)
        ]

    crashes = items("crash", 30, platform="Android", version="4.2.0")
    crashes += items("crash", 4, platform="iOS", version="4.1.0")
    others = items("fine", 40, platform="iOS", version="4.1.0")
    others += items("fine", 30, platform="Android", version="4.1.0")
    others += items("fine", 10, platform="Web")
    make_theme("Crashes", crashes)
    make_theme("Other", others)
    return {"crashes": crashes, "others": others}


@pytest.mark.django_db
def test_fields_with_few_values_are_segments_and_ids_are_not(
    feedback: dict[str, list[FeedbackItem]],
) -> None:
    assert segment_fields() == ["platform", "version"]  # 114 order ids: left out
    filters = FeedbackFilters({"segment": "platform=Android"})
    assert items_in_view(filters) == 60
    assert FeedbackItem.objects.filter(filters.condition()).count() == 60
    crashes = feedback["crashes"][0].theme_assignments.get().theme_id
    assert splits_by_theme(filters)[crashes].total == 30
    # A value no item has lets none through; the choices offer only the values there are.
    assert "segment" not in FeedbackFilters({"segment": "platform=Amiga"}).values


@pytest.mark.django_db
def test_new_items_are_counted_in_their_segments_as_they_are_stored(
    feedback: dict[str, list[FeedbackItem]],
) -> None:
    new = FeedbackItem.objects.create(
        source=feedback["others"][0].source,
        kind="review",
        text="new",
        content_hash="new",
        created_at=WHEN,
        metadata={"platform": "Web"},
    )
    count_stored_items([new.pk])
    assert items_in_view(FeedbackFilters({"segment": "platform=Web"})) == 11
    web = DailySegmentCount.objects.filter(field="platform", value="Web")
    assert sum(web.values_list("items", flat=True)) == 11


@pytest.mark.django_db
def test_a_theme_lists_the_segments_it_over_represents(
    feedback: dict[str, list[FeedbackItem]], pm_user: User
) -> None:
    crashes = feedback["crashes"][0].theme_assignments.get().theme
    found = theme_segments(FeedbackFilters({}), crashes.pk)
    # 4.2.0: 30 of its 34 against 30 of the 104 with a version; Android: 30 of 34 against
    # 60 of 114.
    assert [(s.label, s.value, s.items, s.of) for s in found.over_represented] == [
        ("version", "4.2.0", 30, 34),
        ("platform", "Android", 30, 34),
    ]
    platforms = next(b for b in found.breakdowns if b.field == "platform")
    assert [(share.value, share.items) for share in platforms.shares] == [
        ("Android", 30),
        ("iOS", 4),
    ]
    assert platforms.shares[0].baseline == pytest.approx(60 / 114)

    client = Client()
    client.force_login(pm_user)
    page = client.get(reverse("insights:theme_detail", args=[crashes.pk])).content.decode()
    card = unescape(page[page.index('id="theme-segments"') :])
    assert "version 4.2.0: 3.1\N{MULTIPLICATION SIGN} the usual share, 30 items" in card
    overview = client.get(reverse("insights:overview"), {"segment": "version=4.2.0"})
    assert overview.status_code == 200
    assert '<option value="version=4.2.0" selected>version: 4.2.0</option>' in (
        overview.content.decode()
    )


@pytest.mark.django_db
def test_an_upgraded_install_counts_its_items_after_migrate(
    feedback: dict[str, list[FeedbackItem]],
) -> None:
    """Items stored before the counts per segment existed are counted once migrate is done."""
    DailySegmentCount.objects.all().delete()
    DailyThemeSegmentCount.objects.all().delete()
    call_command("migrate", verbosity=0)
    assert segment_fields() == ["platform", "version"]
    assert items_in_view(FeedbackFilters({"segment": "platform=Android"})) == 60
    assert DailyThemeSegmentCount.objects.exists()


@pytest.mark.django_db
def test_the_weekly_report_says_which_segments_each_theme_over_represents(
    feedback: dict[str, list[FeedbackItem]],
) -> None:
    crashes = feedback["crashes"][0].theme_assignments.get().theme
    Theme.objects.update(first_seen_at=WHEN)
    report = build_report(Period(date(2026, 11, 2), date(2026, 11, 8), "UTC"))
    (figures,) = [theme for theme in report.themes if theme.id == crashes.pk]
    # The period holds every item: the same counts as the theme page's.
    assert [(s.label, s.value, s.items, s.of) for s in figures.segments] == [
        ("version", "4.2.0", 30, 34),
        ("platform", "Android", 30, 34),
    ]
    line = "version 4.2.0: 3.1\N{MULTIPLICATION SIGN} the usual share, 30 items"
    rows = csv.DictReader(io.StringIO(themes_csv(report).decode("utf-8-sig")))
    row = next(row for row in rows if row["theme"] == "Crashes")
    assert row["over_represented"].startswith(line + "; platform Android")
    assert f"Over-represented: {line}" in unescape(report_html(report).decode())
