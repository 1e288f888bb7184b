"""Theme list, theme page, and the corrections people make to a theme."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from feedlens.access import role_required
from ingestion.models import FeedbackItem
from insights.curation import corrections
from insights.dashboards import impact, segments, theme_stats
from insights.dashboards.cards import shown_card
from insights.dashboards.charts import page_figure, weekly_sentiment_figure
from insights.dashboards.filters import FeedbackFilters
from insights.forms import MergeThemeForm, RenameThemeForm, ThemeStatusForm
from insights.models import Correction, CorrectionKind, Theme, ThemeStatus
from insights.pipeline.describing.quotes import cited_item_ids, theme_quotes
from insights.views.pages import apply_correction, paginated, report_invalid

# The corrections shown on a theme's page, latest first.
HISTORY_LENGTH = 50


@role_required()
def theme_list(request: HttpRequest) -> HttpResponse:
    """Every open theme (closed ones too on request) with its items counted within the
    filters: size, share of the filtered items, sentiment split."""
    filters = FeedbackFilters(request.GET)
    show_closed = request.GET.get("closed") == "1"
    listing = theme_stats.theme_list(filters, show_closed)
    context = {
        "rows": listing.rows,
        "filters": filters,
        "total": listing.total,
        "show_closed": show_closed,
        "closed_query": filters.query_string(closed=None if show_closed else "1"),
    }
    return render(request, "insights/theme_list.html", context)


@role_required()
def theme_detail(request: HttpRequest, theme_id: int) -> HttpResponse:
    theme = get_object_or_404(
        Theme.objects.select_related(
            "merged_into", "parent", "name_model", "summary_model", "project"
        ),
        pk=theme_id,
    )
    filters = FeedbackFilters(request.GET)
    detail = theme_stats.theme_detail(theme, filters)
    history = corrections.theme_history(theme, HISTORY_LENGTH)
    context = {
        "theme": theme,
        "filters": filters,
        "count": detail.split.total,
        "undated": detail.undated,
        "percent": detail.percent,
        "split": theme_stats.split_parts(detail.split),
        **paginated(detail.items, filters, request.GET.get("page"), detail.split.total),
        "figures": [
            page_figure("theme-weekly", weekly_sentiment_figure(detail.weeks, "Items per week"))
        ],
        "history": history,
        "named_by": _named_by(theme, history),
        "merged_here": theme.merged_themes.only("id", "name"),
        "broad_themes": _broad_themes(theme),
        "sub_themes": theme_stats.sub_theme_counts(theme, filters),
        "impacts": impact.theme_impact_by_scale(filters, theme.pk),
        "segments": segments.theme_segments(filters, theme.pk),
        **_summary_and_quotes(theme),
        **_correction_forms(request, theme),
    }
    return render(request, "insights/theme_detail.html", context)


def _broad_themes(theme: Theme) -> list[Theme]:
    """Return the live broad themes the theme is part of, the topmost first."""
    if theme.parent is None or not theme.parent.is_live:
        return []
    above = [theme.parent.pk, *Theme.objects.hierarchy().above(theme.parent.pk)]
    found = Theme.objects.only("id", "name").in_bulk(above)
    return [found[pk] for pk in reversed(above) if pk in found]


def _named_by(theme: Theme, history: list[Correction]) -> Correction | None:
    """Return the rename that gave the theme its current name, if a person named it."""
    renames = (c for c in history if c.kind == CorrectionKind.RENAME and c.theme_id == theme.pk)
    return next(renames, None) if theme.name_source == "person" else None


def _summary_and_quotes(theme: Theme) -> dict[str, Any]:
    """Return the theme's pain-point card, the sentences beside it (the model's, or the
    fallback's quotes) with the items each cites, and the theme's quotes, each its item and
    text: as many as it has representatives, those first (see theme_quotes)."""
    representatives = theme.representative_item_ids
    quotes = theme_quotes(theme, len(representatives), preferred=representatives)
    quoted = [pk for pk, _ in quotes]
    found = FeedbackItem.objects.select_related("source").in_bulk({*cited_item_ids(theme), *quoted})
    sentences = [
        {"text": s["text"], "items": [found[pk] for pk in s.get("item_ids", []) if pk in found]}
        for s in theme.pain_summary
    ]
    return {
        "summary": sentences,
        # A long item speaks for the theme by its part in it (the quote's text).
        "quotes": [{"item": found[pk], "text": text} for pk, text in quotes if pk in found],
        "card": shown_card(theme),
    }


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
