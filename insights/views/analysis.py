from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from feedlens.access import role_required
from feedlens.jobs import job_status_response
from insights.forms import AnalysisForm
from insights.jobs import start_analysis
from insights.models import AnalysisRun
from insights.pipeline.run import STAGES, RunInProgress, workers_seen


@role_required()
def analysis(request: HttpRequest) -> HttpResponse:
    """Recent analysis runs, and a form to start one."""
    form = AnalysisForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("insights.add_analysisrun"):
            raise PermissionDenied
        if form.is_valid():
            try:
                run = start_analysis(
                    source_id=form.cleaned_data["source"].pk
                    if form.cleaned_data["source"]
                    else None,
                    recluster=form.cleaned_data["recluster"],
                    user=request.user,
                )
            except RunInProgress as busy:
                messages.info(request, str(busy))
                if busy.run is None:
                    return redirect("insights:analysis")
                run = busy.run
            return redirect("insights:analysis_run", run_id=run.pk)
    runs = AnalysisRun.objects.select_related("source", "created_by")[:20]
    context = {"form": form, "runs": runs, "workers": workers_seen()}
    return render(request, "insights/analysis.html", context)


@role_required()
def analysis_run(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(AnalysisRun.objects.select_related("source"), pk=run_id)
    return render(request, "insights/analysis_run.html", {"run": run, "stages": STAGES})


@role_required()
@require_GET
def analysis_run_status(request: HttpRequest, run_id: int) -> JsonResponse:
    return job_status_response(AnalysisRun.objects.all(), run_id)
