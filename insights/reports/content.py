"""The figures of a report, from grouped database queries (never by loading every item):
volume and sentiment against the previous period, themes that are top, new, rising or more
negative, each with its pain points and quotes, and the items per source and per day."""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import islice
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from ingestion.models import DataSource, FeedbackItem, Project
from ingestion.ratings import RatingScale
from insights.dashboards.cards import CARD_KIND, card_lines
from insights.dashboards.impact import (
    Impacts,
    ThemeImpact,
    fix_first,
    fix_first_rule,
    item_impacts,
)
from insights.dashboards.overview import (
    NEGATIVE_SHARE_MIN_ITEMS,
    NO_ITEMS,
    SentimentSplit,
    ThemeStats,
    sentiment_counts,
)
from insights.dashboards.segments import item_segments
from insights.models import AssignmentMethod, SummaryKind, Theme, ThemeAssignment
from insights.models.sentiment_labels import SHOWN_LABELS
from insights.pipeline.describing.quotes import Quote, cited_item_ids, theme_quotes
from insights.reports.period import Period, zone
from insights.segments import SegmentShare
from insights.wording import one_line

TOP_THEMES = 10
# New, rising and more negative themes: a report that lists more is not read.
SECTION_THEMES = 8
QUOTES_PER_THEME = 3
QUOTE_CHARS = 400
# A theme's negative share "grew" when it rose by at least 10 points (0.30 → 0.40), with
# NEGATIVE_SHARE_MIN_ITEMS analysed items in both periods: a share of two items is noise.
NEGATIVE_SHARE_MIN_RISE = 0.10


@dataclass(frozen=True)
class ThemeFigures:
    """A theme's items in the period and the one before, with what the report says of it."""

    id: int
    name: str
    current: SentimentSplit
    previous: SentimentSplit
    first_seen_at: datetime | None
    is_new: bool
    summary: list[str] = field(default_factory=list)
    summary_kind: str = ""
    quotes: list[Quote] = field(default_factory=list)
    # On the report's rating scale, among the period's rated items (None: none rated).
    impact: ThemeImpact | None = None
    # The segment values it over-represents among the period's items, most first.
    segments: list[SegmentShare] = field(default_factory=list)

    @property
    def change(self) -> int:
        return self.current.total - self.previous.total

    @property
    def segments_line(self) -> str:
        """The segments it over-represents, in one line ("" for none)."""
        return "; ".join(share.describe() for share in self.segments)

    @property
    def growth_percent(self) -> int | None:
        """Return the change in percent, or None when the previous period had no items."""
        return percent_change(self.current.total, self.previous.total)

    @property
    def is_rising(self) -> bool:
        """The overview's rule (insights.dashboards.overview.ThemeStats.is_rising), with the
        period for the week."""
        return self.as_stats().is_rising

    def as_stats(self) -> ThemeStats:
        """The theme as the overview counts it, with the period for the latest week."""
        return ThemeStats(
            self.id, self.name, "", self.current, self.current.total, self.previous.total
        )

    @property
    def negative_share_change(self) -> float | None:
        """Return how much the negative share rose (0.1 = 10 points), or None when either
        period has too few analysed items to tell."""
        now, before = self.current, self.previous
        if min(now.analysed, before.analysed) < NEGATIVE_SHARE_MIN_ITEMS:
            return None
        return (now.negative_share or 0.0) - (before.negative_share or 0.0)

    @property
    def negative_share_grew(self) -> bool:
        change = self.negative_share_change
        return change is not None and change >= NEGATIVE_SHARE_MIN_RISE - 1e-9

    @property
    def summary_note(self) -> str:
        """Return what a reader should know about the summary (empty for a generated one)."""
        if self.summary_kind == SummaryKind.EXTRACTIVE:
            return str(SummaryKind.EXTRACTIVE.label)
        if self.summary_kind == CARD_KIND:
            return "Pain-point card: counted over all of the theme's negative feedback."
        return "" if self.summary else "No pain-point summary yet."


@dataclass(frozen=True)
class SourceFigures:
    id: int
    name: str
    current: SentimentSplit
    previous: SentimentSplit

    @property
    def growth_percent(self) -> int | None:
        return percent_change(self.current.total, self.previous.total)


@dataclass(frozen=True)
class DayFigures:
    day: date
    split: SentimentSplit


@dataclass(frozen=True)
class ReportScope:
    """The feedback a report covers: one project's (None: every project's) and, of it, the
    ticked sources' (none: every source's). A project's report covers the sources it has
    when the report is made, so a weekly report follows a product as sources are added."""

    source_ids: tuple[int, ...] = ()
    project_id: int | None = None

    @classmethod
    def of(cls, source_ids: Iterable[int] = (), project_id: int | None = None) -> "ReportScope":
        return cls(tuple(sorted(source_ids)), project_id)

    def condition(self, prefix: str = "") -> Q:
        """Return the condition "the item is in scope"; prefix leads to the item."""
        condition = Q()
        if self.source_ids:
            condition &= Q(**{f"{prefix}source__in": list(self.source_ids)})
        if self.project_id is not None:
            condition &= Q(**{f"{prefix}source__project": self.project_id})
        return condition


WHOLE_WORKSPACE = ReportScope()


@dataclass(frozen=True)
class ReportContent:
    """Everything a report shows; each list is ordered as it is shown."""

    period: Period
    previous_period: Period
    scope: ReportScope
    source_names: list[str]
    project_name: str  # "" for every project
    totals: SentimentSplit
    previous_totals: SentimentSplit
    days: list[DayFigures]
    sources: list[SourceFigures]
    themes: list[ThemeFigures]
    top_themes: list[ThemeFigures]
    new_themes: list[ThemeFigures]
    rising_themes: list[ThemeFigures]
    more_negative_themes: list[ThemeFigures]
    generated_at: datetime
    # What to fix first (insights.dashboards.impact.fix_first), on the scale most of the
    # period's rated items are on (None: no rated item on a known scale).
    rating_scale: RatingScale | None = None
    rated_items: int = 0
    fix_first: list[ThemeFigures] = field(default_factory=list)

    @property
    def growth_percent(self) -> int | None:
        return percent_change(self.totals.total, self.previous_totals.total)

    @property
    def volume_rows(self) -> list[dict[str, Any]]:
        """Return the items and each sentiment, this period and the previous, with the change."""
        rows = [("Items", self.totals.total, self.previous_totals.total)]
        rows += [
            (label.name, self.totals.count_of(label), self.previous_totals.count_of(label))
            for label in SHOWN_LABELS
        ]
        return [
            {"label": label, "now": now, "before": before, "percent": percent_change(now, before)}
            for label, now, before in rows
        ]

    @property
    def fix_first_rule(self) -> str:
        return fix_first_rule()

    @property
    def sources_label(self) -> str:
        sources = ", ".join(self.source_names) if self.source_names else "All sources"
        return f"{self.project_name}: {sources}" if self.project_name else sources


def percent_change(current: int, previous: int) -> int | None:
    return round(100 * (current - previous) / previous) if previous else None


def build_report(period: Period, scope: ReportScope = WHOLE_WORKSPACE) -> ReportContent:
    """Return the report's figures for the items in scope created in period (and the
    period before)."""
    previous = period.previous()
    sources = source_figures(period, scope)
    impacts = period_impacts(period, scope)
    segments = item_segments(*_period_rows(period, scope))
    themes = [
        replace(theme, impact=impacts.by_theme.get(theme.id), segments=segments.get(theme.id, []))
        for theme in theme_figures(period, scope)
    ]
    ranked = fix_first([theme.as_stats() for theme in themes], impacts)[:SECTION_THEMES]
    by_id = {theme.id: theme for theme in themes}
    to_fix = [by_id[row.theme.id] for row in ranked]
    top = sorted(themes, key=lambda t: (-t.current.total, t.id))[:TOP_THEMES]
    top = [theme for theme in top if theme.current.total]
    new = [theme for theme in top_by_volume(themes) if theme.is_new][:SECTION_THEMES]
    rising = [t for t in themes if t.is_rising and not t.is_new]
    rising.sort(key=lambda t: (-t.change, t.id))
    negative = [theme for theme in themes if theme.negative_share_grew]
    negative.sort(key=lambda t: (-(t.negative_share_change or 0), -t.current.total, t.id))
    rising, negative = rising[:SECTION_THEMES], negative[:SECTION_THEMES]
    shown = _with_quotes(top + new + rising + negative + to_fix, period, scope)
    return ReportContent(
        period=period,
        previous_period=previous,
        scope=scope,
        source_names=list(
            DataSource.objects.filter(pk__in=scope.source_ids)
            .order_by("name")
            .values_list("name", flat=True)
        ),
        project_name=_project_name(scope),
        totals=sum((source.current for source in sources), NO_ITEMS),
        previous_totals=sum((source.previous for source in sources), NO_ITEMS),
        days=day_figures(period, scope),
        sources=sources,
        themes=themes,
        top_themes=[shown[theme.id] for theme in top],
        new_themes=[shown[theme.id] for theme in new],
        rising_themes=[shown[theme.id] for theme in rising],
        more_negative_themes=[shown[theme.id] for theme in negative],
        generated_at=timezone.now(),
        rating_scale=impacts.scale,
        rated_items=impacts.whole.items,
        fix_first=[shown[theme.id] for theme in to_fix],
    )


def period_impacts(period: Period, scope: ReportScope) -> Impacts:
    """Each theme's impact on ratings among the items in scope created in period (the
    themes without sub-themes, as theme_figures counts them)."""
    return item_impacts(*_period_rows(period, scope))


def _period_rows(
    period: Period, scope: ReportScope
) -> tuple[QuerySet[FeedbackItem], QuerySet[ThemeAssignment]]:
    """The items in scope created in period, and their assignments to the themes without
    sub-themes (as theme_figures counts them)."""
    return (
        FeedbackItem.objects.filter(items_in(period, scope)),
        ThemeAssignment.objects.filter(
            items_in(period, scope, "item"), theme__in=Theme.objects.leaves()
        ),
    )


def top_by_volume(themes: list[ThemeFigures]) -> list[ThemeFigures]:
    return sorted(themes, key=lambda t: (-t.current.total, t.id))


def _project_name(scope: ReportScope) -> str:
    if scope.project_id is None:
        return ""
    return Project.objects.filter(pk=scope.project_id).values_list("name", flat=True).get()


def items_in(period: Period, scope: ReportScope, path: str = "") -> Q:
    """Return the condition "the item was created in period, and is in scope"."""
    prefix = f"{path}__" if path else ""
    condition = Q(
        **{f"{prefix}created_at__gte": period.starts_at, f"{prefix}created_at__lt": period.ends_at}
    )
    return condition & scope.condition(prefix)


def _split_counts(
    name: str, condition: Q, sentiment_path: str, toward_theme: str | None = None
) -> dict[str, Count]:
    """Return Count annotations name_total and name_<label> for the rows matching condition,
    read back by SentimentSplit.from_row(row, f"{name}_") (toward_theme: as in
    sentiment_counts)."""
    return {
        f"{name}_total": Count("pk", filter=condition),
        **sentiment_counts(sentiment_path, condition, f"{name}_", toward_theme=toward_theme),
    }


def _two_period_counts(
    period: Period, path: str, toward_theme: str | None = None
) -> dict[str, Count]:
    """Return the split counts of both periods; the rows are already limited to the sources."""
    prefix = f"{path}__" if path else ""
    sentiment = f"{prefix}sentiment"
    return {
        **_split_counts(
            "current", items_in(period, WHOLE_WORKSPACE, path), sentiment, toward_theme
        ),
        **_split_counts(
            "previous", items_in(period.previous(), WHOLE_WORKSPACE, path), sentiment, toward_theme
        ),
    }


def _both_periods(period: Period, scope: ReportScope, path: str = "") -> Q:
    both = Period(period.previous().start, period.end, period.time_zone)
    return items_in(both, scope, path)


def source_figures(period: Period, scope: ReportScope) -> list[SourceFigures]:
    """Return the items per source in both periods, most items first, in one GROUP BY."""
    rows = (
        FeedbackItem.objects.filter(_both_periods(period, scope))
        .values("source", "source__name")
        .annotate(**_two_period_counts(period, ""))
        .order_by()
    )
    figures = [
        SourceFigures(
            row["source"],
            row["source__name"],
            SentimentSplit.from_row(row, "current_"),
            SentimentSplit.from_row(row, "previous_"),
        )
        for row in rows
    ]
    return sorted(figures, key=lambda s: (-s.current.total, -s.previous.total, s.name))


def theme_figures(period: Period, scope: ReportScope) -> list[ThemeFigures]:
    """Return every live theme without sub-themes with items in either period, in one
    GROUP BY."""
    rows = (
        ThemeAssignment.objects.filter(
            # The specific themes: a broad one holds its sub-themes' items.
            _both_periods(period, scope, "item"),
            theme__in=Theme.objects.leaves(),
        )
        .values("theme", "theme__name", "theme__first_seen_at")
        # Each item with its sentiment toward the theme (the rows are its assignments).
        .annotate(**_two_period_counts(period, "item", toward_theme=""))
        .order_by()
    )
    return [_theme(row, period) for row in rows]


def _theme(row: Mapping[str, Any], period: Period) -> ThemeFigures:
    current, previous = (
        SentimentSplit.from_row(row, "current_"),
        SentimentSplit.from_row(row, "previous_"),
    )
    first_seen = row["theme__first_seen_at"]
    first_seen_in_period = (
        first_seen is not None and period.starts_at <= first_seen < period.ends_at
    )
    return ThemeFigures(
        id=row["theme"],
        name=row["theme__name"],
        current=current,
        previous=previous,
        first_seen_at=first_seen,
        is_new=bool(current.total) and (first_seen_in_period or not previous.total),
    )


def day_figures(period: Period, scope: ReportScope) -> list[DayFigures]:
    """Return each day of the period (local days, empty ones included) with its items."""
    rows = (
        FeedbackItem.objects.filter(items_in(period, scope))
        .annotate(day=TruncDate("created_at", tzinfo=zone(period.time_zone)))
        .values("day")
        .annotate(**_split_counts("current", Q(), "sentiment"))
        .order_by()
    )
    by_day = {row["day"]: SentimentSplit.from_row(row, "current_") for row in rows}
    return [DayFigures(day, by_day.get(day, NO_ITEMS)) for day in period.day_list()]


def _with_quotes(
    themes: list[ThemeFigures], period: Period, scope: ReportScope
) -> dict[int, ThemeFigures]:
    """Return the shown themes by id, each with its pain-point lines and quotes."""
    stored = Theme.objects.in_bulk({theme.id for theme in themes})
    shown = {}
    for figures in themes:
        summary, kind = card_lines(stored[figures.id])
        quotes = period_quotes(stored[figures.id], period, scope)
        shown[figures.id] = replace(figures, summary=summary, summary_kind=kind, quotes=quotes)
    return shown


def period_quotes(
    theme: Theme, period: Period, scope: ReportScope = WHOLE_WORKSPACE
) -> list[Quote]:
    """Return up to QUOTES_PER_THEME distinct items of the theme from the period, shortened
    to QUOTE_CHARS: the ones its summary cites and its representatives first, then the
    nearest its centre."""
    preferred = [*cited_item_ids(theme), *theme.representative_item_ids]
    items = FeedbackItem.objects.filter(items_in(period, scope))
    quotes = theme_quotes(theme, QUOTES_PER_THEME, preferred=preferred, items=items)
    return [Quote(item_id, one_line(text, QUOTE_CHARS)) for item_id, text in quotes]


ITEM_COLUMNS = {
    "id": "id",
    "source": "source__name",
    "created_at": "created_at",
    "kind": "kind",
    "rating": "rating",
    "corrected": "sentiment__corrected",
    "predicted": "sentiment__predicted",
    "title": "title",
    "text": "text",
}
# Items read a query, and their themes in one more.
ITEMS_CHUNK = 2000


def period_items(period: Period, scope: ReportScope) -> Iterator[dict[str, Any]]:
    """Yield the period's items oldest first, as rows: source, date, rating, sentiment
    (a person's correction winning), theme (of an item in several, their ids and names
    joined by "; ", nearest first); read in chunks, never all at once."""
    rows = (
        FeedbackItem.objects.filter(items_in(period, scope))
        .order_by("created_at", "id")
        .values_list(*ITEM_COLUMNS.values())
    )
    chunks = iter(rows.iterator(chunk_size=ITEMS_CHUNK))
    while chunk := [dict(zip(ITEM_COLUMNS, v, strict=True)) for v in islice(chunks, ITEMS_CHUNK)]:
        themes = _themes_of([row["id"] for row in chunk])
        for row in chunk:
            corrected, predicted = row.pop("corrected"), row.pop("predicted")
            row["sentiment"] = corrected or predicted or ""
            ids, names = themes.get(row["id"], ([], []))
            row["theme_id"] = "; ".join(map(str, ids))
            row["theme"] = "; ".join(names)
            yield row


def _themes_of(item_ids: list[int]) -> dict[int, tuple[list[int], list[str]]]:
    """The ids and names of the items' specific themes (not the broad themes they are in
    through them), nearest first."""
    themes: dict[int, tuple[list[int], list[str]]] = {}
    rows = (
        ThemeAssignment.objects.filter(item_id__in=item_ids)
        .exclude(method=AssignmentMethod.PARENT)
        .order_by("item_id", "-similarity")
        .values_list("item_id", "theme_id", "theme__name")
    )
    for item_id, theme_id, name in rows:
        ids, names = themes.setdefault(item_id, ([], []))
        ids.append(theme_id)
        names.append(name)
    return themes
