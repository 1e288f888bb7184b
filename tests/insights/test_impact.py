"""Impact of each theme on ratings (issue 22): the difference of averages with its interval,
what the average would be without the theme's drag, and "What to fix first"."""

import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from math import sqrt

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from ingestion.models import DataSource, FeedbackItem
from ingestion.ratings import RatingScale
from insights.dashboards import impact
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.impact import (
    IMPACT_MIN_RATED,
    RatingSums,
    ThemeImpact,
    fix_first,
    growth_weight,
    item_impacts,
    view_impacts,
)
from insights.dashboards.overview import NO_ITEMS, ThemeStats
from insights.models import Theme, ThemeAssignment
from insights.reports.content import build_report
from insights.reports.period import Period
from insights.reports.render_csv import themes_csv
from insights.reports.render_html import report_html
from insights.reports.render_pdf import report_pdf
from tests.factories import add_items, make_theme, signed_in
from tests.insights.test_reports import pdf_text

WHEN = datetime(2026, 11, 3, 12, tzinfo=UTC)


def sums_of(ratings: Sequence[float]) -> RatingSums:
    values = np.array(ratings, dtype=float)
    return RatingSums(len(values), float(values.sum()), float((values**2).sum()))


def test_rating_sums_give_the_mean_and_sample_variance_of_their_ratings() -> None:
    ratings = [1, 2, 2, 5, 4, 3, 1]
    sums = sums_of(ratings)
    assert sums.mean == pytest.approx(np.mean(ratings))
    assert sums.variance == pytest.approx(np.var(ratings, ddof=1))
    rest = sums - sums_of([1, 2, 2])
    assert rest.mean == pytest.approx(np.mean([5, 4, 3, 1]))
    assert rest.variance == pytest.approx(np.var([5, 4, 3, 1], ddof=1))
    assert RatingSums().mean is None and sums_of([3]).variance == 0.0


def test_a_themes_impact_is_the_difference_of_averages_with_a_welch_interval() -> None:
    theme = [1, 2, 1, 3, 2] * 8  # 40 ratings, mean 1.8
    rest = [4, 5, 5, 3, 4, 5] * 10  # 60 ratings, mean 4.33
    found = ThemeImpact(7, RatingScale.STARS, sums_of(theme), sums_of(rest))
    difference = np.mean(theme) - np.mean(rest)
    spread = 1.96 * sqrt(np.var(theme, ddof=1) / 40 + np.var(rest, ddof=1) / 60)
    assert found.difference == pytest.approx(difference)
    assert found.interval == pytest.approx((difference - spread, difference + spread))
    assert found.stable and found.is_significant
    everything = theme + rest
    assert found.average_now == pytest.approx(np.mean(everything))
    assert found.average_if_like_rest == pytest.approx(np.mean(rest))
    # The rise of the average is the difference weighted by the theme's share of ratings.
    assert found.gain == pytest.approx(-difference * 40 / 100)
    assert "would move from 3.32 to 4.33" in found.summary


def test_too_few_ratings_say_so_instead_of_a_number() -> None:
    few = ThemeImpact(
        1, RatingScale.STARS, sums_of([1.0] * (IMPACT_MIN_RATED - 1)), sums_of([5.0] * 100)
    )
    assert not few.stable and not few.is_significant
    assert "too few for a stable estimate" in few.summary
    assert "would move" not in few.summary


def test_an_interval_across_zero_is_not_significant() -> None:
    same = ThemeImpact(1, RatingScale.STARS, sums_of([1, 5] * 20), sums_of([2, 4] * 30))
    assert same.stable and not same.is_significant
    assert "which includes no difference" in same.summary


def stats(theme_id: int, latest: int, previous: int) -> ThemeStats:
    return ThemeStats(theme_id, f"theme {theme_id}", "active", NO_ITEMS, latest, previous)


def test_growth_weighs_from_one_to_the_cap() -> None:
    assert growth_weight(stats(1, 10, 10)) == 1.0
    assert growth_weight(stats(1, 5, 10)) == 1.0
    assert growth_weight(stats(1, 15, 10)) == pytest.approx(1.5)
    assert growth_weight(stats(1, 40, 10)) == impact.GROWTH_WEIGHT_CAP
    assert growth_weight(stats(1, 4, 0)) == impact.GROWTH_WEIGHT_CAP  # new this week


def test_fix_first_ranks_significant_drags_by_gain_times_growth() -> None:
    def impact_of(theme_id: int, low: list[float], n: int) -> ThemeImpact:
        return ThemeImpact(theme_id, RatingScale.STARS, sums_of(low * n), sums_of([4, 5] * 100))

    impacts = impact.Impacts(
        RatingScale.STARS,
        RatingSums(),
        {
            1: impact_of(1, [1, 2], 40),  # the largest drag, steady
            2: impact_of(2, [2, 3], 30),  # a smaller drag that doubled: ranked first
            3: impact_of(3, [4, 5], 40),  # rated like the others: not listed
            4: impact_of(4, [1], 10),  # too few ratings: not listed
        },
    )
    themes = [stats(1, 10, 10), stats(2, 20, 10), stats(3, 10, 10), stats(4, 10, 10)]
    ranked = fix_first(themes, impacts)
    assert [row.theme.id for row in ranked] == [2, 1]
    assert ranked[0].priority == pytest.approx(impacts.by_theme[2].gain * 2)


@pytest.mark.django_db
def test_impacts_from_the_daily_counts_match_the_items_ratings() -> None:
    """Two themes in a star-rated source, an item in both; the figures are those computed
    from the items themselves."""
    low = add_items(*(f"crash {i}" for i in range(40)), rating=1, when=WHEN)
    low += add_items(*(f"crash again {i}" for i in range(10)), rating=2, when=WHEN)
    high = add_items(*(f"love it {i}" for i in range(60)), rating=5, when=WHEN)
    crashes = make_theme("Crashes", low)
    praise = make_theme("Praise", [*high, low[0]])
    found = view_impacts(FeedbackFilters({}))
    assert found.scale == RatingScale.STARS
    assert found.whole.items == 110
    rated = FeedbackItem.objects.values_list("pk", "rating")
    ratings = {pk: rating for pk, rating in rated if rating is not None}
    for theme in (crashes, praise):
        members = set(ThemeAssignment.objects.filter(theme=theme).values_list("item_id", flat=True))
        inside = [ratings[pk] for pk in members]
        outside = [rating for pk, rating in ratings.items() if pk not in members]
        measured = found.by_theme[theme.pk]
        assert measured.theme.items == len(inside)
        assert measured.difference == pytest.approx(np.mean(inside) - np.mean(outside))
        assert measured.average_now == pytest.approx(np.mean(list(ratings.values())))
    # The same figures from the items (a report's way) as from the daily counts.
    from_items = item_impacts(FeedbackItem.objects.all(), ThemeAssignment.objects.all())
    assert from_items.by_theme[crashes.pk].interval == pytest.approx(
        found.by_theme[crashes.pk].interval
    )


@pytest.mark.django_db
def test_ratings_on_another_scale_are_measured_apart() -> None:
    """An NPS source's 0-10 scores never mix with star ratings: the view shows the scale
    most rated items are on, and a theme page each scale."""
    nps = DataSource.objects.create(name="Survey")
    scores = add_items(*(f"survey {i}" for i in range(80)), source=nps, rating=0, when=WHEN)
    scores += add_items(*(f"survey ok {i}" for i in range(80)), source=nps, rating=10, when=WHEN)
    stars = add_items(*(f"review {i}" for i in range(40)), rating=2, when=WHEN)
    stars += add_items(*(f"review ok {i}" for i in range(40)), rating=4, when=WHEN)
    both = make_theme("Billing", [*scores[:40], *stars[:40]])
    found = view_impacts(FeedbackFilters({}))
    assert found.scale == RatingScale.NPS and found.whole.items == 160
    assert found.by_theme[both.pk].theme.mean == 0.0
    per_scale = impact.theme_impact_by_scale(FeedbackFilters({}), both.pk)
    assert [(one.scale, one.theme.items, one.theme.mean) for one in per_scale] == [
        (RatingScale.NPS, 40, 0.0),
        (RatingScale.STARS, 40, 2.0),
    ]
    stars_only = view_impacts(FeedbackFilters({"source": str(stars[0].source_id)}))
    assert stars_only.scale == RatingScale.STARS
    assert stars_only.by_theme[both.pk].difference == pytest.approx(-2.0)


@pytest.mark.django_db
def test_no_ratings_no_impact() -> None:
    make_theme("Unrated", add_items("one", "two", when=WHEN))
    assert view_impacts(FeedbackFilters({})) == impact.NO_IMPACTS


@pytest.mark.django_db
def test_pages_show_what_to_fix_first_and_each_themes_impact(pm_user: User) -> None:
    low = add_items(*(f"crash {i}" for i in range(40)), rating=1, when=WHEN)
    high = add_items(*(f"love it {i}" for i in range(60)), rating=5, when=WHEN)
    crashes = make_theme("App crashes on launch", low)
    small = make_theme("Dark mode", high[:5])
    make_theme("Praise", high[5:])
    client = signed_in(pm_user)
    page = client.get(reverse("insights:overview")).content.decode()
    fixes = page[page.index('id="fix-first"') : page.index('class="columns theme-tops"')]
    assert "App crashes on launch" in fixes and "Praise" not in fixes
    assert "the average would move from 3.40 to 5.00" in fixes
    detail = client.get(reverse("insights:theme_detail", args=[crashes.pk])).content.decode()
    assert "40 rated items average 1.00 against 5.00 for the other 60" in detail
    tiny = client.get(reverse("insights:theme_detail", args=[small.pk])).content.decode()
    assert "too few for a stable estimate" in tiny


@pytest.mark.django_db
def test_overview_without_ratings_says_what_impact_needs(pm_user: User) -> None:
    make_theme("Unrated", add_items("one", "two", when=WHEN))
    page = signed_in(pm_user).get(reverse("insights:overview")).content.decode()
    assert "No ratings in view on a known scale" in page


@pytest.mark.django_db
def test_the_weekly_report_lists_what_to_fix_first_with_its_figures() -> None:
    low = add_items(*(f"crash {i}" for i in range(40)), rating=1, when=WHEN)
    high = add_items(*(f"love it {i}" for i in range(60)), rating=5, when=WHEN)
    crashes = make_theme("App crashes on launch", low)
    make_theme("Praise", high)
    Theme.objects.update(first_seen_at=WHEN)
    report = build_report(Period(date(2026, 11, 2), date(2026, 11, 8), "UTC"))
    assert report.rating_scale == RatingScale.STARS and report.rated_items == 100
    assert [theme.id for theme in report.fix_first] == [crashes.pk]
    rows = csv.DictReader(io.StringIO(themes_csv(report).decode("utf-8-sig")))
    row = next(row for row in rows if row["theme"] == "App crashes on launch")
    assert row["rated_items"] == "40" and row["fix_first_rank"] == "1"
    assert float(row["rating_difference"]) == pytest.approx(-4.0)
    assert float(row["average_if_rated_like_others"]) == pytest.approx(5.0)
    html = report_html(report).decode()
    fixes = html[html.index("What to fix first") : html.index("Top themes")]
    assert "App crashes on launch" in fixes
    assert "the average would move from 3.40 to 5.00" in fixes
    assert "What to fix first" in pdf_text(report_pdf(report))
