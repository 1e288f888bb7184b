from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.db.models.functions import TruncWeek
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from ingestion.models import DataSource, FeedbackItem, ItemKind
from insights.accuracy import evaluation_tables, next_item_to_label, record_label
from insights.analysis import STAGES, start_analysis
from insights.forms import AnalysisForm, EvaluationLabelForm
from insights.models import AnalysisRun, EvaluationLabel, Sentiment, Theme, sentiment_label_is
from insights.themes import LIVE_STATUSES

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
        "latest": FeedbackItem.objects.select_related("source", "sentiment")[:10],
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
    items = FeedbackItem.objects.select_related("source", "sentiment")
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


@login_required
def theme_list(request: HttpRequest) -> HttpResponse:
    """The themes found so far, biggest first, with their sentiment and pain points."""
    themes = list(
        Theme.objects.filter(status__in=LIVE_STATUSES, merged_into__isnull=True)
        .annotate(**_sentiment_counts("assignments__item__sentiment"))
        .order_by("-size", "pk")
    )
    quotes = _quotes_by_id(themes)
    for theme in themes:
        theme.quotes = [quotes[pk] for pk in theme.representative_item_ids[:3] if pk in quotes]
        theme.summary_sentences = [
            {"text": s["text"], "items": [quotes.get(pk) for pk in s["item_ids"] if pk in quotes]}
            for s in theme.pain_summary
        ]
    return render(request, "insights/theme_list.html", {"themes": themes})


def _sentiment_counts(path: str) -> dict[str, Count]:
    """Count a theme's items by sentiment; a person's correction wins over the prediction."""
    counts = {}
    for name in Sentiment.values:
        counts[f"{name}_count"] = Count("assignments", filter=sentiment_label_is(name, path))
    return counts


def _quotes_by_id(themes: list[Theme]) -> dict[int, FeedbackItem]:
    wanted = {pk for theme in themes for pk in theme.representative_item_ids[:3]}
    wanted |= {pk for theme in themes for s in theme.pain_summary for pk in s["item_ids"]}
    return FeedbackItem.objects.in_bulk(wanted)


@login_required
def analysis(request: HttpRequest) -> HttpResponse:
    """Recent analysis runs, and a form to start one."""
    form = AnalysisForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("insights.add_analysisrun"):
            raise PermissionDenied
        if form.is_valid():
            run = start_analysis(
                source_id=form.cleaned_data["source"].pk if form.cleaned_data["source"] else None,
                recluster=form.cleaned_data["recluster"],
                user=request.user,
            )
            return redirect("insights:analysis_run", run_id=run.pk)
    runs = AnalysisRun.objects.select_related("source", "created_by")[:20]
    return render(request, "insights/analysis.html", {"form": form, "runs": runs})


@login_required
def analysis_run(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(AnalysisRun.objects.select_related("source"), pk=run_id)
    return render(request, "insights/analysis_run.html", {"run": run, "stages": STAGES})


@login_required
@require_GET
def analysis_run_status(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(AnalysisRun, pk=run_id)
    return JsonResponse(
        {
            "status": run.status,
            "status_label": run.get_status_display(),
            "finished": run.is_finished,
            "stage": run.stage,
            "done": run.done,
            "total": run.total,
            "stats": run.stats,
            "error": run.error,
        }
    )


@login_required
def evaluation(request: HttpRequest) -> HttpResponse:
    """The analysis's accuracy on this company's feedback, from people's labels."""
    labels = list(EvaluationLabel.objects.select_related("item__source"))
    context = {"tables": evaluation_tables(labels), "label_count": len(labels)}
    return render(request, "insights/evaluation.html", context)


@login_required
@permission_required("insights.add_evaluationlabel", raise_exception=True)
def evaluation_label(request: HttpRequest) -> HttpResponse:
    """Label one random analysed item, then the next."""
    form = EvaluationLabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        item = get_object_or_404(FeedbackItem, pk=request.POST.get("item"))
        record_label(
            item, form.cleaned_data["sentiment"], form.cleaned_data["theme_is_right"], request.user
        )
        return redirect("insights:evaluation_label")
    item = next_item_to_label()
    theme = Theme.objects.filter(assignments__item=item).first() if item else None
    context = {"form": form, "item": item, "theme": theme}
    return render(request, "insights/evaluation_label.html", context)
