from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.db.models.functions import TruncWeek
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ingestion.models import DataSource, FeedbackItem, ItemKind

ITEMS_PER_PAGE = 50


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    weeks = list(
        FeedbackItem.objects.filter(created_at__isnull=False)
        .annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(count=Count("id"))
        .order_by("-week")[:12]
    )
    busiest = max((week["count"] for week in weeks), default=0)
    for week in weeks:
        week["share"] = round(100 * week["count"] / busiest) if busiest else 0
    sources = DataSource.objects.annotate(
        item_count=Count("items"), latest_item=Max("items__created_at")
    )
    context = {
        "total": FeedbackItem.objects.count(),
        "sources": sources,
        "kinds": _counts_by_kind(),
        "weeks": weeks[::-1],
        "latest": FeedbackItem.objects.select_related("source")[:10],
    }
    return render(request, "insights/overview.html", context)


def _counts_by_kind() -> list[dict[str, object]]:
    labels = dict(ItemKind.choices)
    counts = FeedbackItem.objects.values("kind").annotate(count=Count("id")).order_by("kind")
    return [
        {"label": labels.get(row["kind"], row["kind"]), "count": row["count"]} for row in counts
    ]


@login_required
def item_list(request: HttpRequest) -> HttpResponse:
    items = FeedbackItem.objects.select_related("source")
    source_id = request.GET.get("source", "")
    kind = request.GET.get("kind", "")
    if source_id.isdigit():
        items = items.filter(source_id=int(source_id))
    if kind in ItemKind.values:
        items = items.filter(kind=kind)
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "sources": DataSource.objects.all(),
        "kinds": ItemKind.choices,
        "selected_source": source_id,
        "selected_kind": kind,
    }
    return render(request, "insights/item_list.html", context)
