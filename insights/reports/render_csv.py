"""The report as CSV: one row per theme with its figures, and one file of the period's items."""

import csv
from collections.abc import Iterable
from io import StringIO
from typing import Any

from insights.models.sentiment_labels import SHOWN_LABELS
from insights.reports.content import ReportContent, ThemeFigures, period_items
from insights.reports.period import zone

THEME_COLUMNS = [
    "theme_id",
    "theme",
    "items",
    "previous_items",
    "change_percent",
    # The theme's items in the period with each label, then those not analysed yet.
    *(label.csv_column for label in SHOWN_LABELS),
    "negative_percent",
    "previous_negative_percent",
    "top",
    "new",
    "rising",
    "negative_share_grew",
    # On the report's rating scale (rating_scale), among the period's rated items; empty
    # where the theme has none or too few for a stable estimate (impact.IMPACT_MIN_RATED).
    "rating_scale",
    "rated_items",
    "average_rating",
    "others_average_rating",
    "rating_difference",
    "rating_difference_low",
    "rating_difference_high",
    "average_if_rated_like_others",
    "fix_first_rank",
    # The segment values the theme over-represents among the period's items ("; " apart).
    "over_represented",
    "summary",
    "summary_kind",
    "quote_item_ids",
]
IMPACT_COLUMNS = THEME_COLUMNS[
    THEME_COLUMNS.index("rating_scale") : THEME_COLUMNS.index("fix_first_rank") + 1
]
ITEM_COLUMNS = [
    "id",
    "source",
    "created_at",
    "kind",
    "rating",
    "sentiment",
    "theme_id",
    "theme",
    "title",
    "text",
]
# A cell starting with one of these is a formula to a spreadsheet: it is written as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def themes_csv(content: ReportContent) -> bytes:
    """Return one row per theme with items in the period or the one before, most items first."""
    top = {theme.id for theme in content.top_themes}
    described = {
        theme.id: theme
        for theme in content.top_themes
        + content.new_themes
        + content.rising_themes
        + content.more_negative_themes
    }
    fix_ranks = {theme.id: rank for rank, theme in enumerate(content.fix_first, 1)}
    themes = sorted(content.themes, key=lambda t: (-t.current.total, -t.previous.total, t.id))
    rows = (
        _theme_row(described.get(t.id, t), t.id in top) | _impact_cells(t, fix_ranks.get(t.id))
        for t in themes
    )
    return _csv(THEME_COLUMNS, rows)


def items_csv(content: ReportContent) -> bytes:
    """Return the period's items, oldest first, with dates in the report's time zone."""
    local = zone(content.period.time_zone)
    rows = (
        {**row, "created_at": row["created_at"].astimezone(local).isoformat()}
        for row in period_items(content.period, content.scope)
    )
    return _csv(ITEM_COLUMNS, rows)


def _theme_row(theme: ThemeFigures, in_top: bool) -> dict[str, Any]:
    return {
        "theme_id": theme.id,
        "theme": theme.name,
        "items": theme.current.total,
        "previous_items": theme.previous.total,
        "change_percent": theme.growth_percent,
        **{label.csv_column: theme.current.count_of(label) for label in SHOWN_LABELS},
        "negative_percent": theme.current.negative_percent,
        "previous_negative_percent": theme.previous.negative_percent,
        "top": _yes(in_top),
        "new": _yes(theme.is_new),
        "rising": _yes(theme.is_rising and not theme.is_new),
        "negative_share_grew": _yes(theme.negative_share_grew),
        "over_represented": theme.segments_line,
        "summary": " ".join(theme.summary),
        "summary_kind": theme.summary_kind,
        "quote_item_ids": " ".join(str(quote.item_id) for quote in theme.quotes),
    }


def _impact_cells(theme: ThemeFigures, fix_rank: int | None) -> dict[str, Any]:
    impact = theme.impact
    if impact is None:
        return {column: None for column in IMPACT_COLUMNS} | {"rated_items": 0}
    cells: dict[str, Any] = {
        "rating_scale": impact.scale.value,
        "rated_items": impact.theme.items,
        "fix_first_rank": fix_rank,
    }
    if impact.stable:
        low, high = impact.interval
        figures = (
            impact.theme.mean,
            impact.rest.mean,
            impact.difference,
            low,
            high,
            impact.average_if_like_rest,
        )
        cells |= {
            column: round(value or 0.0, 4)
            for column, value in zip(IMPACT_COLUMNS[2:8], figures, strict=True)
        }
    return {column: None for column in IMPACT_COLUMNS} | cells


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _csv(columns: list[str], rows: Iterable[dict[str, Any]]) -> bytes:
    """Return the rows as UTF-8 CSV with a byte-order mark, which spreadsheets need to read
    UTF-8; empty cells for None."""
    buffer = StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in columns])
    return ("\ufeff" + buffer.getvalue()).encode()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
