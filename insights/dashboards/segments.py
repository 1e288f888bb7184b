"""A theme's segments on its page: how its items in view split over each segment field's
values (insights.segments) against all feedback in view, and the values it over-represents
beyond chance, from the daily counts per segment (DailySegmentCount and
DailyThemeSegmentCount)."""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet, Sum

from insights.dashboards.filters import FeedbackFilters
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
    whole_totals, own_totals = _field_totals(whole), _field_totals(own)
    shares = [
        SegmentShare(
            field, value, items, own_totals[field], whole[field, value] / whole_totals[field]
        )
        for (field, value), items in own.items()
    ]
    return ThemeSegments(_breakdowns(shares), over_represented(shares))


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
