"""Themes' segments: on a theme's page, how its items in view split over each segment
field's values (insights.segments) against all feedback in view, and the values it
over-represents beyond chance, from the daily counts per segment (DailySegmentCount and
DailyThemeSegmentCount); in a report, the values each theme over-represents among the
period's items, counted from the items themselves (item_segments)."""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet, Sum

from insights.dashboards.daily_counts import segment_fields
from insights.dashboards.filters import FeedbackFilters, metadata_value
from insights.models import DailySegmentCount, DailyThemeSegmentCount
from insights.segments import SegmentShare, over_represented

# The values of a field a theme's page lists, most of the theme's items first.
VALUES_SHOWN = 8


@dataclass(frozen=True)
class FieldBreakdown:
    field: str
    shares: list[SegmentShare]  # the theme's values of the field, most items first
    hidden: int  # values of the field beyond VALUES_SHOWN


@dataclass(frozen=True)
class ThemeSegments:
    breakdowns: list[FieldBreakdown]  # one per segment field the theme's items have
    over_represented: list[SegmentShare]  # most over-represented first


NO_SEGMENTS = ThemeSegments([], [])


def theme_segments(filters: FeedbackFilters, theme_id: int) -> ThemeSegments:
    """The theme's segments among the items the filters but the segment let through (each
    field's counts are its own rows, so a segment filter cannot narrow another field's)."""
    condition = filters.daily_condition()
    whole = _value_counts(DailySegmentCount.objects.filter(condition))
    own = _value_counts(DailyThemeSegmentCount.objects.filter(condition, theme=theme_id))
    if not own:
        return NO_SEGMENTS
    shares = _shares(own, whole)
    return ThemeSegments(_breakdowns(shares), over_represented(shares))


def item_segments(
    items: QuerySet[Any], assignments: QuerySet[Any]
) -> dict[int, list[SegmentShare]]:
    """The values each theme over-represents among items (FeedbackItem rows, a report's
    period), by theme id; assignments: their ThemeAssignment rows of the themes to look at.
    Two grouped queries per segment field."""
    whole: Counter[tuple[str, str]] = Counter()
    by_theme: dict[int, Counter[tuple[str, str]]] = {}
    for field in segment_fields():
        valued = items.annotate(segment_value=metadata_value(field))
        for row in _counted(valued.values("segment_value")):
            whole[field, row["segment_value"]] += row["counted"]
        valued = assignments.annotate(segment_value=metadata_value(field, "item__"))
        for row in _counted(valued.values("theme_id", "segment_value")):
            own = by_theme.setdefault(row["theme_id"], Counter())
            own[field, row["segment_value"]] += row["counted"]
    found = {theme_id: over_represented(_shares(own, whole)) for theme_id, own in by_theme.items()}
    return {theme_id: shares for theme_id, shares in found.items() if shares}


def _counted(rows: QuerySet[Any]) -> QuerySet[Any]:
    """The rows with a segment value, grouped by it (and the other columns chosen), counted."""
    valued = rows.exclude(segment_value__isnull=True).exclude(segment_value="")
    return valued.order_by().annotate(counted=Count("pk"))


def _shares(own: Counter[tuple[str, str]], whole: Counter[tuple[str, str]]) -> list[SegmentShare]:
    """A group's counts of each (field, value) as shares, against all feedback's (whole)."""
    whole_totals, own_totals = _field_totals(whole), _field_totals(own)
    return [
        SegmentShare(
            field, value, items, own_totals[field], whole[field, value] / whole_totals[field]
        )
        for (field, value), items in own.items()
    ]


def _value_counts(rows: QuerySet[Any]) -> Counter[tuple[str, str]]:
    grouped = rows.order_by().values("field", "value").annotate(counted=Sum("items"))
    return Counter({(row["field"], row["value"]): row["counted"] for row in grouped})


def _field_totals(counts: Counter[tuple[str, str]]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for (field, _), items in counts.items():
        totals[field] += items
    return totals


def _breakdowns(shares: list[SegmentShare]) -> list[FieldBreakdown]:
    by_field: dict[str, list[SegmentShare]] = {}
    for share in sorted(shares, key=lambda share: (share.field, -share.items, share.value)):
        by_field.setdefault(share.field, []).append(share)
    return [
        FieldBreakdown(field, found[:VALUES_SHOWN], max(0, len(found) - VALUES_SHOWN))
        for field, found in by_field.items()
    ]
