"""Theme list, theme page, and the corrections people make to a theme."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from feedlens.access import role_required
from ingestion.models import FeedbackItem
from insights.curation import corrections
from insights.dashboards.charts import page_figure, weekly_sentiment_figure
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.overview import sentiment_counts, weekly_sentiment_counts
from insights.forms import MergeThemeForm, RenameThemeForm, ThemeStatusForm
from insights.models import (
    Correction,
    CorrectionKind,
    Sentiment,
    Theme,
    ThemeStatus,
)
from insights.pipeline.themes.identity import LIVE_STATUSES

ITEMS_PER_PAGE = 50
# Shown on the list unless people ask for the themes they closed too.
OPEN_STATUSES = (ThemeStatus.ACTIVE,)
HISTORY_LENGTH = 50


@role_required()
def theme_list(request: HttpRequest) -> HttpResponse:
    """Every open theme (closed ones too on request) with its items counted within the
    filters: size, share of the filtered items, sentiment split. One aggregate query."""
    filters = FeedbackFilters(request.GET)
    show_closed = request.GET.get("closed") == "1"
    statuses = LIVE_STATUSES if show_closed else OPEN_STATUSES
    themes = Theme.objects.filter(status__in=statuses, merged_into__isnull=True).only(
        "id", "name", "name_source", "keywords", "status", "size"
    )
    counts = _counts_by_theme(filters.apply(FeedbackItem.objects.all()))
    total = sum(row["count"] for row in counts.values())  # those in no theme too
    rows = [_theme_row(theme, counts.get(theme.pk), total) for theme in themes]
    if filters.is_active:
        rows = [row for row in rows if row["count"]]
    rows.sort(key=lambda row: (-row["count"], row["theme"].pk))
    context = {
        "rows": rows,
        "filters": filters,
        "total": total,
        "show_closed": show_closed,
        "closed_query": filters.query_string(closed=None if show_closed else "1"),
    }
    return render(request, "insights/theme_list.html", context)


def _counts_by_theme(items: QuerySet[FeedbackItem]) -> dict[int | None, dict[str, int]]:
    """Return the items' count and sentiment split per theme id (None: in no theme), in one
    pass over the items that also gives their total."""
    rows = (
        items.order_by()
        .values("theme_assignment__theme")
        .annotate(count=Count("pk"), **sentiment_counts())
    )
    return {row["theme_assignment__theme"]: row for row in rows}


def _theme_row(theme: Theme, counts: dict[str, int] | None, total: int) -> dict[str, Any]:
    counts = counts or {"count": 0}
    return {
        "theme": theme,
        "count": counts["count"],
        "percent": _percent(counts["count"], total),
        "split": _split(counts),
    }


def _split(counts: dict[str, int]) -> list[dict[str, Any]]:
    """Return each sentiment's count and share of the counted items (unscored ones last)."""
    total = counts.get("count", 0)
    split = [{"label": label, "count": counts.get(label, 0)} for label in Sentiment.values]
    split.append({"label": "unscored", "count": total - sum(s["count"] for s in split)})
    for part in split:
        part["percent"] = _percent(part["count"], total)
    return split


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


@role_required()
def theme_detail(request: HttpRequest, theme_id: int) -> HttpResponse:
    theme = get_object_or_404(
        Theme.objects.select_related("merged_into", "name_model", "summary_model"), pk=theme_id
    )
    filters = FeedbackFilters(request.GET)
    items = filters.apply(FeedbackItem.objects.filter(theme_assignment__theme=theme))
    weeks = weekly_sentiment_counts(items)
    counts = _theme_counts(items, weeks)
    total = filters.apply(FeedbackItem.objects.all()).count()
    listed = items.select_related("source", "sentiment", "theme_assignment").order_by(
        "-theme_assignment__similarity", "pk"
    )
    history = list(
        Correction.objects.filter(Q(theme=theme) | Q(target_theme=theme)).select_related(
            "made_by", "theme", "target_theme", "item"
        )[:HISTORY_LENGTH]
    )
    context = {
        "theme": theme,
        "filters": filters,
        "count": counts["count"],
        "percent": _percent(counts["count"], total),
        "split": _split(counts),
        **paginated(listed, filters, request.GET.get("page"), counts["count"]),
        "figures": [page_figure("theme-weekly", weekly_sentiment_figure(weeks, "Items per week"))],
        "history": history,
        "named_by": _named_by(theme, history),
        "merged_here": theme.merged_themes.only("id", "name"),
        **_summary_and_quotes(theme),
        **_correction_forms(request, theme),
    }
    return render(request, "insights/theme_detail.html", context)


def _theme_counts(items: QuerySet[FeedbackItem], weeks: list[dict[str, Any]]) -> dict[str, int]:
    """Return the items' count and count per sentiment: the weekly rows summed, plus the
    items without a date (a small indexed query instead of a second pass over them all)."""
    undated = items.filter(created_at__isnull=True).aggregate(
        count=Count("pk"), **sentiment_counts()
    )
    return {name: undated[name] + sum(row[key] for row in weeks) for name, key in _COUNTED}


# (name in the counts, key in the weekly rows)
_COUNTED = [("count", "total")] + [(label, label) for label in Sentiment.values]


def paginated(
    items: QuerySet, filters: FeedbackFilters, number: str | None, count: int | None = None
) -> dict[str, Any]:
    """Return the page asked for (ITEMS_PER_PAGE items) and the queries of the pages before
    and after it, which keep the filters. count, when the caller knows it, saves a query."""
    paginator = Paginator(items, ITEMS_PER_PAGE)
    if count is not None:
        paginator.count = count  # a cached property: set, it is not counted again
    page = paginator.get_page(number)
    before = filters.query_string(page=page.previous_page_number()) if page.has_previous() else ""
    after = filters.query_string(page=page.next_page_number()) if page.has_next() else ""
    return {"page": page, "previous_query": before, "next_query": after}


def _named_by(theme: Theme, history: list[Correction]) -> Correction | None:
    """Return the rename that gave the theme its current name, if a person named it."""
    renames = (c for c in history if c.kind == CorrectionKind.RENAME and c.theme_id == theme.pk)
    return next(renames, None) if theme.name_source == "person" else None


def _summary_and_quotes(theme: Theme) -> dict[str, Any]:
    """Return the pain-point sentences with the items each cites, and the representative
    items, nearest the centre first: one query for all of them."""
    cited = {pk for sentence in theme.pain_summary for pk in sentence.get("item_ids", [])}
    found = FeedbackItem.objects.select_related("source").in_bulk(
        cited | set(theme.representative_item_ids)
    )
    sentences = [
        {"text": s["text"], "items": [found[pk] for pk in s.get("item_ids", []) if pk in found]}
        for s in theme.pain_summary
    ]
    quotes = [found[pk] for pk in theme.representative_item_ids if pk in found]
    return {"summary": sentences, "quotes": quotes}


def _correction_forms(request: HttpRequest, theme: Theme) -> dict[str, Any]:
    if not request.user.has_perm("insights.change_theme") or theme.merged_into_id:
        return {}
    return {
        "rename_form": RenameThemeForm(initial={"name": theme.name}),
        "merge_form": MergeThemeForm(theme=theme),
        "status_form": ThemeStatusForm(initial={"status": theme.status}),
    }


@role_required("insights.change_theme")
@require_POST
def rename_theme(request: HttpRequest, theme_id: int) -> HttpResponse:
    theme = get_object_or_404(Theme, pk=theme_id)
    form = RenameThemeForm(request.POST)
    if form.is_valid():
        name = form.cleaned_data["name"]
        apply_correction(request, f"Renamed to “{name}”.", corrections.rename_theme, theme, name)
    else:
        report_invalid(request, form)
    return redirect("insights:theme_detail", theme_id=theme.pk)


@role_required("insights.change_theme")
@require_POST
def merge_theme(request: HttpRequest, theme_id: int) -> HttpResponse:
    theme = get_object_or_404(Theme, pk=theme_id)
    form = MergeThemeForm(request.POST, theme=theme)
    if not form.is_valid():
        report_invalid(request, form)
        return redirect("insights:theme_detail", theme_id=theme.pk)
    target = form.cleaned_data["target"]
    merged = f"“{theme.name}” merged into “{target.name}”."
    target = apply_correction(request, merged, corrections.merge_themes, theme, target)
    return redirect("insights:theme_detail", theme_id=target.pk if target else theme.pk)


@role_required("insights.change_theme")
@require_POST
def set_theme_status(request: HttpRequest, theme_id: int) -> HttpResponse:
    theme = get_object_or_404(Theme, pk=theme_id)
    form = ThemeStatusForm(request.POST)
    if form.is_valid():
        status = form.cleaned_data["status"]
        marked = f"Marked {dict(ThemeStatus.choices)[status].lower()}."
        apply_correction(request, marked, corrections.set_theme_status, theme, status)
    else:
        report_invalid(request, form)
    return redirect("insights:theme_detail", theme_id=theme.pk)


def apply_correction(
    request: HttpRequest, done: str, correction: Callable[..., Any], *args: object
) -> Any:
    """Make a correction as the signed-in person and say how it went (done on success);
    return its result, or None when it could not be made."""
    try:
        result = correction(*args, request.user)
    except corrections.CorrectionError as error:
        messages.error(request, str(error))
        return None
    messages.success(request, done)
    return result


def report_invalid(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))
