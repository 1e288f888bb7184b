from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from feedlens.access import role_required
from ingestion.models import FeedbackItem
from insights.dashboards import search as semantic
from insights.dashboards.filters import FILTER_NAMES, FeedbackFilters
from insights.local_models import configured_embedder
from insights.models import listed_items, themes_of_items

HITS_PER_PAGE = 20
# Search ranks every item; past this many pages the hits are no longer about the query.
MAX_PAGES = 25
MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class ShownHit:
    item: FeedbackItem
    similarity: float


@role_required()
def search(request: HttpRequest) -> HttpResponse:
    filters = FeedbackFilters(request.GET)
    query = request.GET.get("q", "").strip()[:MAX_QUERY_CHARS]
    number = _page_number(request.GET.get("page", ""))
    context: dict[str, object] = {
        "filters": filters,
        "query": query,
        # The search box keeps the filters as hidden fields (the filter bar keeps q).
        "kept_filters": [
            (name, request.GET[name]) for name in FILTER_NAMES if name in filters.values
        ],
    }
    if query:
        start = (number - 1) * HITS_PER_PAGE
        # One hit more than the page shows, to know whether a next page exists.
        limit = start + HITS_PER_PAGE + 1
        result = semantic.search(query, limit, filters, embedder=configured_embedder())
        page_hits = result.hits[start : start + HITS_PER_PAGE]
        has_next = len(result.hits) > start + HITS_PER_PAGE and number < MAX_PAGES
        context |= {
            "indexed": result.indexed,
            "hits": _shown(page_hits),
            "number": number,
            "first_rank": start + 1,
            "previous_url": _page_url(query, filters, number - 1) if number > 1 else "",
            "next_url": _page_url(query, filters, number + 1) if has_next else "",
        }
    return render(request, "insights/search.html", context)


def _page_number(raw: str) -> int:
    return min(int(raw), MAX_PAGES) if raw.isdigit() and int(raw) > 0 else 1


def _page_url(query: str, filters: FeedbackFilters, number: int) -> str:
    return f"?{urlencode({'q': query})}&{filters.query_string(page=number)}"


def _shown(hits: list[semantic.Hit]) -> list[ShownHit]:
    """Return the hits' items with what the page shows of them, nearest first."""
    items = (
        listed_items(FeedbackItem.objects.all())
        .prefetch_related(themes_of_items())
        .in_bulk([hit.item_id for hit in hits])
    )
    # An item removed since the index last saw it is left out.
    return [ShownHit(items[hit.item_id], hit.similarity) for hit in hits if hit.item_id in items]
