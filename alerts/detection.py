"""Finding a week's alerts in the daily counts (insights.dashboards.daily_counts) and storing
them once per event: the tests are alerts.rules'; this reads the counts they need, names
what was found in a sentence, and keeps a sample of the items behind it.

An analysis run detects the latest full weeks once its counts are written again
(insights.pipeline.run); `manage.py detect_alerts` detects any weeks.
"""

from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone

from alerts.models import Alert, AlertKind
from alerts.rules import (
    BASELINE_WEEKS,
    MIN_BASELINE_WEEKS,
    MIN_ITEMS,
    WEEK,
    Candidate,
    WeekFigures,
    find_in_week,
    monday_of,
)
from ingestion.models import DataSource, FeedbackItem
from insights.dashboards.filters import start_of_day
from insights.dashboards.overview import split_counts
from insights.models import DailyItemCount, DailyThemeCount, Theme, ThemeAssignment

# Items kept with an alert, to read what it is about.
ALERT_ITEMS = 10


def detect_week(week: date) -> list[Alert]:
    """Test the week starting on Monday week against the weeks before it; store what it
    raises (an event raised before is left as it was) and return the alerts new now."""
    figures, names = _week_figures(week)
    raised = [_alert(candidate, week, names) for candidate in find_in_week(figures)]
    raised += _new_themes(week, figures)
    return [alert for alert in raised if _stored(alert)]


def detect_full_weeks(weeks: int = 1, today: date | None = None) -> list[Alert]:
    """Detect the last weeks that are over (a week still filling up is not compared) and
    hold feedback; return the alerts new now."""
    full = weeks_with_feedback(today)
    return [alert for week in full[max(len(full) - weeks, 0) :] for alert in detect_week(week)]


def detect_after_run(**_signal: object) -> None:
    """Detect the last two full weeks once a run wrote its counts (insights.signals): new
    feedback of the week before may have arrived since it was last tested."""
    detect_full_weeks(weeks=2)


def weeks_with_feedback(today: date | None = None) -> list[date]:
    """Every full week from the first with feedback to the last that is over."""
    latest, first = _last_full_week(today or timezone.localdate()), _first_week()
    if latest is None or first is None:
        return []
    return [first + n * WEEK for n in range((latest - first) // WEEK + 1)]


def _last_full_week(today: date) -> date | None:
    last_day = DailyItemCount.objects.aggregate(last=Max("day"))["last"]
    if last_day is None:
        return None
    return min(monday_of(last_day), monday_of(today) - WEEK)


def _first_week() -> date | None:
    first_day = DailyItemCount.objects.aggregate(first=Min("day"))["first"]
    return None if first_day is None else monday_of(first_day)


def _week_figures(week: date) -> tuple[WeekFigures, dict[tuple[str, int], str]]:
    """The counts of the week and the BASELINE_WEEKS before it (rules.WeekFigures), and the
    names of the sources and themes they are of."""
    weeks = [week - (BASELINE_WEEKS - n) * WEEK for n in range(BASELINE_WEEKS + 1)]
    days = {"day__gte": weeks[0], "day__lt": week + WEEK}
    items = split_counts(DailyItemCount.objects.filter(**days), ("source", "week"))
    leaves = Theme.objects.leaves().filter(project__isnull=False)
    themes = list(leaves.only("id", "name", "project_id"))
    counts = DailyThemeCount.objects.filter(**days, theme__in=[theme.pk for theme in themes])
    by_theme = split_counts(counts, ("theme", "week"), "toward_theme")
    sources = dict(DataSource.objects.values_list("pk", "project_id"))
    by_source = {
        source: [items[source, w].total if (source, w) in items else 0 for w in weeks]
        for source in sources
    }
    by_project: dict[int, list[int]] = {}
    for source, project in sources.items():
        totals = by_project.setdefault(project, [0] * len(weeks))
        by_project[project] = [a + b for a, b in zip(totals, by_source[source], strict=True)]
    splits = {theme.pk: [by_theme.get((theme.pk, w)) for w in weeks] for theme in themes}
    figures = WeekFigures(
        source_items=by_source,
        source_project=sources,
        project_items=by_project,
        theme_items={pk: [s.total if s else 0 for s in found] for pk, found in splits.items()},
        theme_project={theme.pk: theme.project_id or 0 for theme in themes},
        theme_analysed={
            pk: [s.analysed if s else 0 for s in found] for pk, found in splits.items()
        },
        theme_negative={
            pk: [s.negative if s else 0 for s in found] for pk, found in splits.items()
        },
    )
    names = {("theme", theme.pk): theme.name for theme in themes}
    names |= {("source", pk): name for pk, name in DataSource.objects.values_list("pk", "name")}
    return figures, names


def _alert(candidate: Candidate, week: date, names: dict[tuple[str, int], str]) -> Alert:
    numbers, kind = candidate.figures, candidate.kind
    if kind == AlertKind.VOLUME_SPIKE:
        name = names["source", candidate.subject]
        drivers = ", ".join(f"“{names['theme', theme]}”" for theme in candidate.drivers)
        summary = (
            f"{name} had {numbers['items']:,.0f} items in the week of {week:%-d %b %Y}, "
            f"against a usual {numbers['usual']:,.0f}"
            + (f"; most of the rise: {drivers}." if drivers else ".")
        )
        return _new(kind, week, summary, candidate, source_id=candidate.subject)
    name = names["theme", candidate.subject]
    if kind == AlertKind.THEME_SPIKE:
        share = numbers["items"] / numbers["week_items"]
        summary = (
            f"“{name}”: {numbers['items']:,} items, {share:.0%} of the week's feedback against "
            f"a usual {numbers['usual_share']:.0%}."
        )
    elif kind == AlertKind.RISING:
        summary = (
            f"“{name}”: {numbers['items']:,} items against {numbers['previous']:,} the week before."
        )
    else:
        summary = (
            f"“{name}”: {numbers['negative_share']:.0%} negative against "
            f"{numbers['usual_negative_share']:.0%} in the weeks before "
            f"({numbers['analysed']:,} items read)."
        )
    return _new(kind, week, summary, candidate, theme_id=candidate.subject)


def _new(
    kind: str,
    week: date,
    summary: str,
    candidate: Candidate | None,
    *,
    theme_id: int | None = None,
    source_id: int | None = None,
) -> Alert:
    subject = f"theme {theme_id}" if theme_id else f"source {source_id}"
    return Alert(
        kind=kind,
        week=week,
        theme_id=theme_id,
        source_id=source_id,
        key=f"{kind} {week.isoformat()} {subject}",
        summary=summary,
        figures=candidate.figures if candidate else {},
        p_value=candidate.p_value if candidate else None,
        item_ids=_items_behind(week, theme_id, source_id),
    )


def _new_themes(week: date, figures: WeekFigures) -> list[Alert]:
    """Themes whose first item is of the week and that hold MIN_ITEMS of its items: a new
    topic (a theme a re-cluster found again keeps its first item's date)."""
    starts, ends = start_of_day(week), start_of_day(week + WEEK)
    new = Theme.objects.leaves().filter(first_seen_at__gte=starts, first_seen_at__lt=ends)
    alerts = []
    for theme in new.only("id", "name", "project_id"):
        items = figures.theme_items.get(theme.pk, [0])[-1]
        before = figures.project_items.get(theme.project_id or 0, [])[:-1]
        # In a project's first weeks every theme is new: none is news yet.
        if items >= MIN_ITEMS and sum(1 for count in before if count) >= MIN_BASELINE_WEEKS:
            summary = f"New theme “{theme.name}”: {items:,} items in its first week."
            alerts.append(_new(AlertKind.NEW_THEME, week, summary, None, theme_id=theme.pk))
    return alerts


def _items_behind(week: date, theme_id: int | None, source_id: int | None) -> list[int]:
    """A sample of the week's items of the theme (nearest its centre first) or source."""
    during = {"created_at__gte": start_of_day(week), "created_at__lt": start_of_day(week + WEEK)}
    if theme_id is not None:
        rows = ThemeAssignment.objects.filter(
            theme_id=theme_id, **{f"item__{name}": value for name, value in during.items()}
        )
        return list(rows.order_by("-similarity").values_list("item_id", flat=True)[:ALERT_ITEMS])
    items = FeedbackItem.objects.filter(source_id=source_id, **during)
    return list(items.order_by("created_at", "pk").values_list("pk", flat=True)[:ALERT_ITEMS])


def _stored(alert: Alert) -> bool:
    """Store the alert unless its event was raised before; whether it was new."""
    try:
        with transaction.atomic():
            alert.save()
    except IntegrityError:
        return False
    return True
