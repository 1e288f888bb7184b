"""Aggregates behind the dashboard pages, computed in the database (GROUP BY) from the daily
counts (insights.dashboards.daily_counts), never by loading or counting items one by one:
the pages must stay fast at a million items."""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from math import sqrt
from typing import Any

from django.db.models import Count, DateField, Q, QuerySet, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from insights.dashboards.filters import FeedbackFilters
from insights.models import (
    Theme,
    sentiment_label_is,
    theme_sentiment_label_is,
)
from insights.models.sentiment_labels import NOT_ANALYSED, SENTIMENT_LABELS, SentimentLabel
from insights.pipeline.describing.cards import card_headline


def sentiment_counts(
    path: str = "sentiment",
    where: Q | None = None,
    prefix: str = "",
    *,
    toward_theme: str | None = None,
) -> dict[str, Count]:
    """Return a Count annotation prefix+label for each sentiment label (the items not analysed
    are the rest), of the rows matching where, a person's correction winning over the
    prediction; path leads to the ItemSentiment row. toward_theme: count each item's
    sentiment toward the theme of the rows' assignment instead (theme_sentiment_label_is;
    the prefix leading to the ThemeAssignment row, "" when the rows are assignments)."""

    def label_is(label: str) -> Q:
        if toward_theme is None:
            return sentiment_label_is(label, path)
        return theme_sentiment_label_is(label, toward_theme, path)

    return {
        prefix + label.value: Count("pk", filter=(where or Q()) & label_is(label.value))
        for label in SENTIMENT_LABELS
    }


# A theme is rising when its items in the latest full week grew by at least half over the
# week before, when that week has enough items to matter, and when the increase is more than
# chance explains: counts of independent reports vary like Poisson counts, so the difference
# of two weeks has a standard deviation of about sqrt(latest + previous). On the demo data the
# receipt crash in 5.2 goes 32 → 56 (+75 %, z = 2.6: rising) while a steady theme going
# 16 → 24 (+50 %, z = 1.3) is noise.
RISING_MIN_GROWTH = 0.5
RISING_MIN_ITEMS = 10
RISING_MIN_Z = 2.0
# A share of negative items means little for a theme of two or three items.
NEGATIVE_SHARE_MIN_ITEMS = 5
TOP_THEMES = 10
WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class SentimentSplit:
    """Item counts of one group (a source, a kind, a theme, the whole view) by sentiment."""

    total: int
    negative: int
    neutral: int
    positive: int

    @classmethod
    def of_labels(cls, items_by_label: Mapping[str, int]) -> "SentimentSplit":
        """Return the split of item counts by label (any other label: not analysed)."""
        return cls(
            sum(items_by_label.values()),
            *(items_by_label.get(label.value, 0) for label in SENTIMENT_LABELS),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any], prefix: str = "") -> "SentimentSplit":
        """Return the split of a grouped row: prefix+"total" and the counts sentiment_counts
        annotated with the same prefix."""
        return cls(*(row[prefix + name] for name in SPLIT_COLUMNS))

    def count_of(self, label: SentimentLabel) -> int:
        """Return the items with the label (NOT_ANALYSED: those with none yet)."""
        return self.not_analysed if label == NOT_ANALYSED else getattr(self, label.value)

    def __add__(self, other: "SentimentSplit") -> "SentimentSplit":
        return SentimentSplit(
            self.total + other.total,
            self.negative + other.negative,
            self.neutral + other.neutral,
            self.positive + other.positive,
        )

    @property
    def analysed(self) -> int:
        return self.negative + self.neutral + self.positive

    @property
    def not_analysed(self) -> int:
        return self.total - self.analysed

    @property
    def negative_share(self) -> float | None:
        """Return the share of negative items among those with a sentiment (None if none)."""
        return self.negative / self.analysed if self.analysed else None

    @property
    def negative_percent(self) -> int | None:
        share = self.negative_share
        return None if share is None else round(100 * share)


NO_ITEMS = SentimentSplit(0, 0, 0, 0)


@dataclass(frozen=True)
class ThemeStats:
    """A live theme within the filtered items: its sentiment split and its last two weeks."""

    id: int
    name: str
    status: str
    split: SentimentSplit
    latest_week: int
    previous_week: int
    headline: str = ""  # the first sentence of its pain-point card

    @property
    def growth(self) -> float | None:
        """Return the change from the week before as a fraction (0.5 = +50 %), or None when
        the week before had no items (a new theme: any growth)."""
        if not self.previous_week:
            return None
        return self.latest_week / self.previous_week - 1

    @property
    def growth_percent(self) -> int | None:
        return None if self.growth is None else round(100 * self.growth)

    @property
    def is_rising(self) -> bool:
        """Return whether the theme meets the RISING_* rule above."""
        grown = self.growth is None or self.growth >= RISING_MIN_GROWTH
        increase = self.latest_week - self.previous_week
        beyond_chance = increase >= RISING_MIN_Z * sqrt(self.latest_week + self.previous_week)
        return grown and self.latest_week >= RISING_MIN_ITEMS and beyond_chance


@dataclass(frozen=True)
class Overview:
    """Everything the overview page shows, for one set of filters."""

    weeks: list[dict[str, Any]]
    undated: int  # items in view without a date: counted everywhere but in the weeks
    latest_week: date | None
    totals: SentimentSplit
    by_source: dict[int, SentimentSplit]
    by_kind: dict[str, SentimentSplit]
    themes: list[ThemeStats]


def build_overview(filters: FeedbackFilters, now: datetime | None = None) -> Overview:
    """Return the overview of the items the filters let through, from the daily counts
    (insights.dashboards.daily_counts): one grouped query of the items' (by week, source,
    kind), one of the themes' (by theme and week), and one over the live themes."""
    groups = overview_counts(filters)
    by_week = _sum_by(groups, 0)
    undated = by_week.pop(None, NO_ITEMS).total
    weeks = [{"week": week, **asdict(by_week[week])} for week in sorted(by_week)]
    latest = latest_full_week(weeks, _view_ends_on(filters, now or timezone.now()))
    return Overview(
        weeks=weeks,
        undated=undated,
        latest_week=latest,
        totals=_sum_splits(groups.values()),
        by_source=_sum_by(groups, 1),
        by_kind=_sum_by(groups, 2),
        themes=theme_stats(theme_counts(filters, latest), latest),
    )


GroupKey = tuple[date | None, int, str]
ThemeWeek = tuple[int, date | None]


def split_counts(
    counts: QuerySet[Any], by: Sequence[str], label: str = "sentiment"
) -> dict[Any, SentimentSplit]:
    """Return the sentiment split of the daily counts (DailyItemCount or DailyThemeCount
    rows) per value of the columns by, in one GROUP BY; label: the column of the sentiment
    to split by ("toward_theme": a theme's items by their sentiment toward it). A column
    "week" is the Monday of the row's day (None: the items without a date)."""
    if "week" in by:
        counts = counts.annotate(week=TruncWeek("day", output_field=DateField()))
    rows = counts.order_by().values(*by, label).annotate(items_counted=Sum("items"))
    by_key: dict[tuple[Any, ...], dict[str, int]] = {}
    for row in rows:
        by_key.setdefault(tuple(row[name] for name in by), {})[row[label]] = row["items_counted"]
    return {key: SentimentSplit.of_labels(labels) for key, labels in by_key.items()}


def items_in_view(filters: FeedbackFilters) -> int:
    """Return how many items the filters let through, from the daily counts."""
    counts = filters.item_counts()
    return counts.aggregate(items_counted=Sum("items"))["items_counted"] or 0


def overview_counts(filters: FeedbackFilters) -> dict[GroupKey, SentimentSplit]:
    """Return the sentiment split of the items in view per (week, source id, kind): one
    pass over the daily counts serves the weekly chart, the sources and the kinds (week
    None holds the items without a date)."""
    counts = filters.item_counts()
    return split_counts(counts, ("week", "source", "kind"))


def splits_by_theme(
    filters: FeedbackFilters, themes: Collection[int] | None = None
) -> dict[int, SentimentSplit]:
    """Return the sentiment split of the items in view per theme id (of the given themes
    only, if given): an item counts in each theme it belongs to, with its sentiment toward
    that theme."""
    counts = filters.theme_counts()
    if themes is not None:
        counts = counts.filter(theme__in=list(themes))
    return {
        key[0]: split for key, split in split_counts(counts, ("theme",), "toward_theme").items()
    }


def theme_counts(
    filters: FeedbackFilters, latest_week: date | None
) -> dict[ThemeWeek, SentimentSplit]:
    """Return the sentiment split of the items in view per theme id, under week None, and
    per (theme id, week) for latest_week and the week before: an item counts in each theme
    it belongs to, with its sentiment toward that theme, so these do not add up to the
    items. Weeks only where they are compared: grouping every theme's every week made the
    overview's slowest query at a million items."""
    by_theme: dict[ThemeWeek, SentimentSplit] = {
        (theme_id, None): split for theme_id, split in splits_by_theme(filters).items()
    }
    if latest_week is None:
        return by_theme
    counts = filters.theme_counts()
    compared = counts.filter(day__gte=latest_week - WEEK, day__lt=latest_week + WEEK)
    return by_theme | split_counts(compared, ("theme", "week"), "toward_theme")


def latest_full_week(weeks: list[dict[str, Any]], ends_on: date) -> date | None:
    """Return the Monday of the latest week with items that was over when ends_on began
    (weekly rows {"week": date, "total": n}; the current week is still filling up), or None
    when there is none or the week before it has no items in view: nothing to compare with."""
    totals = {row["week"]: row["total"] for row in weeks}
    full = [week for week, total in totals.items() if total and week + WEEK <= ends_on]
    latest = max(full, default=None)
    return latest if latest is not None and totals.get(latest - WEEK) else None


def _view_ends_on(filters: FeedbackFilters, now: datetime) -> date:
    """Return the day the view ends on (at its start): today, or the day after the filters'
    end date when that is earlier; a week cut short by the end date is not full either."""
    today = timezone.localdate(now)
    end = filters.values.get("end")
    return today if end is None else min(today, end + timedelta(days=1))


def theme_stats(
    counts: dict[ThemeWeek, SentimentSplit], latest_week: date | None
) -> list[ThemeStats]:
    """Return every live theme without sub-themes with items among the counts (as from
    theme_counts), biggest first, with its items in latest_week and the week before: a
    broad theme holds its sub-themes' items, and ranking both would count them twice."""
    live = Theme.objects.leaves()
    names = {
        pk: (name, status, card_headline(card))
        for pk, name, status, card in live.values_list("pk", "name", "status", "card")
    }

    def items_in(theme_id: int, week: date | None) -> int:
        return counts.get((theme_id, week), NO_ITEMS).total if week is not None else 0

    themes = [
        ThemeStats(
            id=theme_id,
            name=names[theme_id][0],
            status=names[theme_id][1],
            split=split,
            latest_week=items_in(theme_id, latest_week),
            previous_week=items_in(theme_id, latest_week and latest_week - WEEK),
            headline=names[theme_id][2],
        )
        for (theme_id, week), split in counts.items()
        if week is None and theme_id in names
    ]
    return sorted(themes, key=lambda theme: (-theme.split.total, theme.id))


def top_by_volume(themes: list[ThemeStats], limit: int = TOP_THEMES) -> list[ThemeStats]:
    return sorted(themes, key=lambda theme: (-theme.split.total, theme.id))[:limit]


def top_by_negative_share(themes: list[ThemeStats], limit: int = TOP_THEMES) -> list[ThemeStats]:
    """Return the themes with the largest share of negative items, among those with at
    least NEGATIVE_SHARE_MIN_ITEMS analysed items."""
    big_enough = [t for t in themes if t.split.analysed >= NEGATIVE_SHARE_MIN_ITEMS]
    return sorted(big_enough, key=lambda t: (-(t.split.negative_share or 0), -t.split.total))[
        :limit
    ]


def top_by_growth(themes: list[ThemeStats], limit: int = TOP_THEMES) -> list[ThemeStats]:
    """Return the themes with more items in the latest full week than in the week before,
    rising ones first, then by growth (new themes count as the fastest growing) and by
    their items that week."""
    growing = [theme for theme in themes if theme.latest_week > theme.previous_week]

    def order(theme: ThemeStats) -> tuple[bool, float, int]:
        growth = float("inf") if theme.growth is None else theme.growth
        return (not theme.is_rising, -growth, -theme.latest_week)

    return sorted(growing, key=order)[:limit]


# The count columns of a grouped row, in SentimentSplit's order (its fields are the labels').
SPLIT_COLUMNS = ("total", *(label.value for label in SENTIMENT_LABELS))


def _sum_splits(splits: Iterable[SentimentSplit]) -> SentimentSplit:
    """Add up grouped counts (groups, not items: a few thousand at most)."""
    return sum(splits, NO_ITEMS)


def _sum_by(groups: dict[tuple, SentimentSplit], position: int) -> dict[Any, SentimentSplit]:
    """Return the groups added up by one part of their key."""
    sums: dict[Any, SentimentSplit] = {}
    for key, split in groups.items():
        sums[key[position]] = sums.get(key[position], NO_ITEMS) + split
    return sums
