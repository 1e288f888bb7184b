"""Alerts (issue 22): each week's counts tested against the weeks before, an alert raised
once per event with its numbers and the items behind it, a quiet week raising none."""

from datetime import UTC, date, datetime, timedelta

import pytest

from alerts.detection import detect_full_weeks, detect_week
from alerts.models import Alert, AlertKind
from alerts.rules import (
    Candidate,
    WeekFigures,
    find_in_week,
    raised,
    rise,
    share_spike,
    volume_spike,
)
from ingestion.models import FeedbackItem
from insights.models import AnalysisRun
from insights.signals import themes_counted
from tests.factories import add_items, make_theme

MONDAYS = [date(2026, 9, 28) + timedelta(weeks=n) for n in range(8)]


def test_a_spike_is_far_beyond_the_usual_weeks_and_a_drift_is_not() -> None:
    usual = [100, 110, 95, 105, 98, 102]
    assert (p := volume_spike(usual, 300)) is not None and p < 1e-6
    assert volume_spike(usual, 130) is None  # not half as many again as usual
    assert volume_spike([100, 110], 300) is None  # too few weeks to know what is usual
    # Volumes that drift widely: their own spread, not Poisson's, says what is unusual.
    drifting = [40, 160, 70, 190, 60, 150]
    assert (p := volume_spike(drifting, 230)) is not None and p > 0.01
    assert (p := volume_spike(usual, 160)) is not None and p < 1e-6  # steady: 160 is news


def test_a_theme_growing_with_all_feedback_is_no_spike_of_its_own() -> None:
    weeks, totals = [10, 12, 9, 11, 10, 10], [100, 120, 90, 110, 100, 100]
    assert share_spike(weeks, totals, 30, 300) is None  # a tenth, as usual
    assert (p := share_spike(weeks, totals, 40, 110)) is not None and p < 1e-6
    # A share that swings widely from week to week: its own spread says what is unusual.
    swinging = [2, 25, 5, 22, 3, 20]
    assert (p := share_spike(swinging, totals, 30, 100)) is not None and p > 0.01
    assert (p := rise(5, 30, 100, 100)) is not None and p < 1e-4
    assert rise(20, 25, 100, 100) is None
    # Three times the items in a week of three times the feedback: no rise of its own.
    assert rise(10, 30, 100, 300) is None


def test_the_bound_is_corrected_for_every_test_of_the_week() -> None:
    borderline = Candidate("rising", 1, 0.001, {})
    assert raised([borderline]) == [borderline]
    others = [Candidate("rising", n, 0.5, {}) for n in range(2, 100)]
    # One p of 0.001 among a hundred tests is what chance gives.
    assert raised([borderline, *others]) == []


def test_one_alert_a_theme_says_its_change_of_volume() -> None:
    weeks = 7
    figures = WeekFigures(
        source_items={1: [100] * 6 + [160]},
        source_project={1: 1},
        project_items={1: [100] * 6 + [160]},
        theme_items={7: [10] * 6 + [70], 8: [20] * weeks},
        theme_project={7: 1, 8: 1},
        theme_analysed={7: [10] * 6 + [70], 8: [20] * weeks},
        theme_negative={7: [2] * 6 + [50], 8: [4] * weeks},
    )
    found = {(c.kind, c.subject) for c in find_in_week(figures)}
    # The spike and the rise of theme 7 are one alert; its negative share jumped too.
    assert found == {("volume_spike", 1), ("theme_spike", 7), ("negative_jump", 7)}


def weekly_feedback() -> dict[str, object]:
    """Two themes of 20 items a week for seven weeks; in the eighth, "Crashes" has 80."""
    crashes, billing = [], []
    for week, monday in enumerate(MONDAYS):
        when = datetime(monday.year, monday.month, monday.day, 12, tzinfo=UTC)
        count = 80 if week == 7 else 20
        crashes += add_items(*(f"crash {week}-{n}" for n in range(count)), when=when)
        billing += add_items(*(f"bill {week}-{n}" for n in range(20)), when=when)
    first = datetime(2026, 9, 28, tzinfo=UTC)
    return {
        "crashes": make_theme("Crashes", crashes, first_seen_at=first),
        "billing": make_theme("Billing", billing, first_seen_at=first),
        "spike_items": crashes[-80:],
    }


@pytest.mark.django_db
def test_a_spike_week_raises_its_alerts_once_and_a_quiet_week_none() -> None:
    feedback = weekly_feedback()
    assert detect_week(MONDAYS[6]) == []  # as usual

    found = detect_week(MONDAYS[7])

    kinds = {(alert.kind, alert.theme_id, alert.source_id) for alert in found}
    crashes = feedback["crashes"]
    source = FeedbackItem.objects.first().source_id  # type: ignore[union-attr]
    assert kinds == {
        (AlertKind.THEME_SPIKE, crashes.pk, None),  # type: ignore[attr-defined]
        (AlertKind.VOLUME_SPIKE, None, source),
    }
    volume = next(alert for alert in found if alert.kind == AlertKind.VOLUME_SPIKE)
    assert volume.summary.endswith("against a usual 40; most of the rise: “Crashes”.")
    spike = next(alert for alert in found if alert.kind == AlertKind.THEME_SPIKE)
    assert spike.summary == "“Crashes”: 80 items, 80% of the week's feedback against a usual 50%."
    assert spike.figures["items"] == 80 and spike.p_value < 1e-6
    assert set(spike.item_ids) <= {item.pk for item in feedback["spike_items"]}  # type: ignore[attr-defined]
    assert len(spike.item_ids) == 10
    # Detecting the week again raises nothing new: one alert per event.
    assert detect_week(MONDAYS[7]) == []
    assert Alert.objects.count() == 2


@pytest.mark.django_db
def test_a_run_that_counted_its_themes_looks_at_the_last_full_weeks() -> None:
    weekly_feedback()
    themes_counted.send(sender=AnalysisRun)
    assert {alert.week for alert in Alert.objects.all()} == {MONDAYS[7]}
    assert detect_full_weeks(weeks=8) == []  # nothing new in any week


@pytest.mark.django_db
def test_a_theme_whose_first_items_are_of_the_week_is_a_new_theme() -> None:
    weekly_feedback()
    week = MONDAYS[7]
    when = datetime(week.year, week.month, week.day, 9, tzinfo=UTC)
    dark = add_items(*(f"dark mode please {n}" for n in range(15)), when=when)
    theme = make_theme("Dark mode", dark, first_seen_at=when)
    found = {(alert.kind, alert.theme_id) for alert in detect_week(week)}
    assert (AlertKind.NEW_THEME, theme.pk) in found
    new = Alert.objects.get(kind=AlertKind.NEW_THEME)
    assert new.summary == "New theme “Dark mode”: 15 items in its first week."
    # The first weeks of a project: every theme is new there, and none is news.
    assert not Alert.objects.filter(kind=AlertKind.NEW_THEME, week=MONDAYS[0]).exists()
    assert AlertKind.NEW_THEME not in {alert.kind for alert in detect_week(MONDAYS[0])}
