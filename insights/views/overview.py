"""The overview: volume, sentiment by source and the top themes, for the filters in the URL."""

from dataclasses import asdict
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from feedlens.access import role_required
from ingestion.models import DataSource, FeedbackItem, ItemKind
from insights.dashboards import charts, impact
from insights.dashboards import overview as dashboard
from insights.dashboards.filters import FeedbackFilters
from insights.models import listed_items

LATEST_ITEMS = 10


@role_required()
def overview(request: HttpRequest) -> HttpResponse:
    filters = FeedbackFilters(request.GET)
    view = dashboard.build_overview(filters)
    sources = _sources(view, filters)
    themes = {
        "by_volume": dashboard.top_by_volume(view.themes),
        "by_negative_share": dashboard.top_by_negative_share(view.themes),
        "by_growth": dashboard.top_by_growth(view.themes),
    }
    latest = filters.apply(listed_items(FeedbackItem.objects.all()))
    context = {
        "filters": filters,
        "filter_query": filters.query_string(),
        "view": view,
        "totals": view.totals,
        "kinds": _kinds(view, filters),
        "sources": sources,
        "themes": themes,
        "rising_rule": _rising_rule(),
        **_fix_first(filters, view.themes),
        "latest": latest[:LATEST_ITEMS],
        "figures": _figures(view, sources, themes["by_volume"]),
    }
    return render(request, "insights/overview.html", context)


def _sources(view: dashboard.Overview, filters: FeedbackFilters) -> list[dict[str, Any]]:
    """Every source with its items in view (none for sources the filters leave out), and
    the query of its items with the same filters."""
    return [
        {
            "source": source,
            "name": source.name,
            "query": filters.query_string(source=source.pk),
            **asdict(view.by_source.get(source.pk, dashboard.NO_ITEMS)),
        }
        for source in DataSource.objects.all()
    ]


def _kinds(view: dashboard.Overview, filters: FeedbackFilters) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "count": view.by_kind[kind].total,
            "query": filters.query_string(kind=kind),
        }
        for kind, label in ItemKind.choices
        if kind in view.by_kind
    ]


def _figures(
    view: dashboard.Overview, sources: list[dict[str, Any]], themes: list[dashboard.ThemeStats]
) -> list[dict[str, Any]]:
    theme_rows = [{"name": theme.name, **asdict(theme.split)} for theme in themes]
    figures = {
        "volume": charts.weekly_sentiment_figure(view.weeks, "Items per week by sentiment"),
        "by-source": charts.sentiment_by_source_figure(
            [row for row in sources if row["total"]], "Sentiment by source"
        ),
        "themes": charts.theme_volume_figure(theme_rows, "Top themes by volume"),
    }
    return [charts.page_figure(f"figure-{key}", figure) for key, figure in figures.items()]


def _fix_first(filters: FeedbackFilters, themes: list[dashboard.ThemeStats]) -> dict[str, Any]:
    impacts = impact.view_impacts(filters)
    return {
        "impacts": impacts,
        "fix_first": impact.fix_first(themes, impacts)[: dashboard.TOP_THEMES],
        "fix_first_rule": impact.fix_first_rule(),
    }


def _rising_rule() -> str:
    return (
        f"up at least {dashboard.RISING_MIN_GROWTH:.0%} on the week before, "
        f"with {dashboard.RISING_MIN_ITEMS} or more items in the week, "
        f"by more than chance explains ({dashboard.RISING_MIN_Z:g} standard deviations)"
    )
