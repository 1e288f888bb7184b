"""Aggregates behind the theme list and a theme's page, computed in the database from the
daily counts as the overview's are (insights.dashboards.overview): the items of each theme
within the filters, their share of the filtered items and their split by sentiment."""

from dataclasses import asdict, dataclass
from typing import Any

from django.db.models import F, QuerySet
from django.db.models.functions import Substr

from ingestion.models import FeedbackItem
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.overview import (
    NO_ITEMS,
    SentimentSplit,
    items_in_view,
    split_counts,
    splits_by_theme,
)
from insights.models import Theme, ThemeStatus, listed_items
from insights.models.sentiment_labels import SHOWN_LABELS

# Listed unless people ask for the themes they closed too.
OPEN_STATUSES = (ThemeStatus.ACTIVE,)


@dataclass(frozen=True)
class ThemeList:
    """The theme list: a row per theme, and the filtered items (those in no theme too)."""

    rows: list[dict[str, Any]]
    total: int


@dataclass(frozen=True)
class ThemeDetail:
    """A theme's items within the filters: counted, by week, and listed nearest first."""

    split: SentimentSplit
    percent: float  # of the filtered items
    weeks: list[dict[str, Any]]
    items: QuerySet[FeedbackItem]

    @property
    def undated(self) -> int:
        """The items without a date: in the split, not in the weeks."""
        return self.split.total - sum(row["total"] for row in self.weeks)


def theme_list(filters: FeedbackFilters, show_closed: bool = False) -> ThemeList:
    """Return every open theme (closed ones too when show_closed) with its items counted
    within the filters, biggest first; with active filters, only themes with items. Two
    queries over the daily counts (by theme, and the items' total), one over the themes."""
    themes = Theme.objects.live()
    if not show_closed:
        themes = themes.filter(status__in=OPEN_STATUSES)
    themes = themes.select_related("project").only(
        "id", "name", "name_source", "keywords", "status", "size", "parent", "project__name"
    )
    splits = splits_by_theme(filters)
    # An item may be in several themes: the splits do not add up to the items.
    total = items_in_view(filters)
    rows = [_theme_row(theme, splits.get(theme.pk, NO_ITEMS), total) for theme in themes]
    if filters.is_active:
        rows = [row for row in rows if row["count"]]
    return ThemeList(_as_tree(rows), total)


def _as_tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows biggest first, each broad theme followed by its listed sub-themes (biggest
    first, each followed by its own; row["depth"]: how many listed broad themes it is
    under, row["sub_theme"] set where any); a sub-theme whose broad theme is not listed
    stands alone."""
    rows = sorted(rows, key=lambda row: (-row["count"], row["theme"].pk))
    listed = {row["theme"].pk for row in rows}
    children: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["theme"].parent_id in listed:
            children.setdefault(row["theme"].parent_id, []).append(row)
    tree: list[dict[str, Any]] = []

    def add(row: dict[str, Any], depth: int) -> None:
        tree.append({**row, "depth": depth, "sub_theme": depth > 0})
        for child in children.get(row["theme"].pk, []):
            add(child, depth + 1)

    for row in rows:
        if row["theme"].parent_id not in listed:
            add(row, 0)
    return tree


def _theme_row(theme: Theme, split: SentimentSplit, total: int) -> dict[str, Any]:
    return {
        "theme": theme,
        "count": split.total,
        "percent": percent(split.total, total),
        "split": split_parts(split),
    }


def theme_detail(theme: Theme, filters: FeedbackFilters) -> ThemeDetail:
    """Return the theme's items within the filters: their split, share of the filtered items
    and weekly counts (from the daily counts), and the items themselves nearest the theme's
    centre first."""
    counts = filters.theme_counts().filter(theme=theme)
    by_week = {
        key[0]: split for key, split in split_counts(counts, ("week",), "toward_theme").items()
    }
    split = sum(by_week.values(), NO_ITEMS)
    weeks = [{"week": week, **asdict(by_week[week])} for week in sorted(filter(None, by_week))]
    items = filters.apply(FeedbackItem.objects.filter(theme_assignments__theme=theme))
    # The filter on theme_assignments above joins the theme's assignment alone: the
    # sentiment, the order and the quoted span below are this theme's.
    listed = (
        listed_items(items)
        .annotate(
            similarity=F("theme_assignments__similarity"),
            quote=_unit_quote(),
            toward_theme=F("theme_assignments__sentiment"),
        )
        .order_by("-similarity", "pk")
    )
    return ThemeDetail(split, percent(split.total, items_in_view(filters)), weeks, listed)


def sub_theme_counts(theme: Theme, filters: FeedbackFilters) -> list[dict[str, Any]]:
    """The theme's live sub-themes, biggest first, each with its items within the filters
    and their share of the theme's (a broad theme holds its sub-themes' items)."""
    if not theme.is_live:
        return []  # a retired or merged theme holds nothing any more
    children = list(Theme.objects.live().filter(parent=theme).only("id", "name", "status"))
    if not children:
        return []
    splits = splits_by_theme(filters, [theme.pk, *(child.pk for child in children)])
    whole = splits.get(theme.pk, NO_ITEMS).total
    rows = [
        {
            "theme": child,
            "count": splits.get(child.pk, NO_ITEMS).total,
            "percent": percent(splits.get(child.pk, NO_ITEMS).total, whole),
        }
        for child in children
    ]
    return sorted(rows, key=lambda row: (-row["count"], row["theme"].pk))


def _unit_quote() -> Substr:
    """The part of a long item that puts it in the theme its assignment is joined for (null
    for an item in it whole)."""
    start = F("theme_assignments__unit_start")
    return Substr("text", start + 1, F("theme_assignments__unit_end") - start)


def split_parts(split: SentimentSplit) -> list[dict[str, Any]]:
    """Return what a page shows of a split: each label's value, legend, count and share of
    the items, the items not analysed yet last."""
    return [
        {
            "label": label.value,
            "name": label.legend,
            "count": split.count_of(label),
            "percent": percent(split.count_of(label), split.total),
        }
        for label in SHOWN_LABELS
    ]


def percent(part: int, whole: int) -> float:
    """Return part as a percentage of whole, to one decimal (0.0 when whole is 0)."""
    return round(100 * part / whole, 1) if whole else 0.0
