"""Reports: the archive with a form to make one now, each archived report with its files,
and the schedules that email them."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from feedlens.access import role_required
from feedlens.jobs import job_status_response
from insights.jobs import request_report
from insights.models import Report, ReportSchedule
from insights.reports.archive import FILES, available_files, file_name, report_file
from insights.reports.content import ReportScope
from insights.reports.forms import ReportForm, ReportScheduleForm
from insights.reports.render_html import report_body
from insights.reports.schedules import delete_schedule, save_schedule

# The list never loads the archived files themselves.
FILE_FIELDS = [file.field for file in FILES.values()]
REFRESH_SECONDS = 2


@role_required("insights.view_report")
def report_list(request: HttpRequest) -> HttpResponse:
    """The archived reports, newest first, and the form to make one."""
    form = ReportForm()
    if request.method == "POST":
        if not request.user.has_perm("insights.add_report"):
            raise PermissionDenied
        form = ReportForm(request.POST)
        if form.is_valid():
            report = request_report(
                form.cleaned_data["period"],
                _scope(form.cleaned_data),
                form.cleaned_data["formats"],
                request.user,
            )
            return redirect("insights:report_detail", report_id=report.pk)
    reports = (
        Report.objects.defer(*FILE_FIELDS)
        .select_related("created_by", "schedule", "project")
        .prefetch_related("sources")[:100]
    )
    return render(request, "insights/report_list.html", {"form": form, "reports": reports})


def _scope(data: dict[str, Any]) -> ReportScope:
    project = data["project"]
    return ReportScope.of([source.pk for source in data["sources"]], project and project.pk)


@role_required("insights.view_report")
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    """The archived page as it was made, with its files; its progress while it is made."""
    report = get_object_or_404(
        Report.objects.select_related("created_by", "schedule"), pk=report_id
    )
    files = [(kind, FILES[kind], file_name(report, kind)) for kind in available_files(report)]
    body = report_body(report_file(report, "html")) if "html" in available_files(report) else ""
    response = render(
        request, "insights/report_detail.html", {"report": report, "files": files, "body": body}
    )
    if not report.is_finished:
        # The browser reloads the page until the report is made: no script needed.
        response["Refresh"] = str(REFRESH_SECONDS)
    return response


@role_required("insights.view_report")
@require_GET
def report_status(request: HttpRequest, report_id: int) -> JsonResponse:
    return job_status_response(Report.objects.defer(*FILE_FIELDS), report_id)


@role_required("insights.view_report")
@require_GET
def report_download(request: HttpRequest, report_id: int, kind: str) -> HttpResponse:
    """One of the report's files, as it was archived."""
    report = get_object_or_404(Report, pk=report_id)
    if kind not in FILES or kind not in available_files(report):
        raise Http404("The report has no such file.")
    response = HttpResponse(report_file(report, kind), content_type=FILES[kind].content_type)
    response["Content-Disposition"] = f'attachment; filename="{file_name(report, kind)}"'
    return response


@role_required("insights.view_reportschedule")
def schedule_list(request: HttpRequest) -> HttpResponse:
    schedules = ReportSchedule.objects.prefetch_related("sources").select_related(
        "created_by", "project"
    )
    return render(request, "insights/report_schedules.html", {"schedules": schedules})


@role_required("insights.view_reportschedule")
def schedule_edit(request: HttpRequest, schedule_id: int | None = None) -> HttpResponse:
    """A new schedule (add permission) or a change to one (change permission)."""
    schedule = get_object_or_404(ReportSchedule, pk=schedule_id) if schedule_id else None
    needed = "insights.change_reportschedule" if schedule else "insights.add_reportschedule"
    if not request.user.has_perm(needed):
        raise PermissionDenied
    form = ReportScheduleForm(request.POST or None, instance=schedule)
    if request.method == "POST" and form.is_valid():
        edited = form.save(commit=False)
        if edited.created_by_id is None:
            edited.created_by = request.user
        save_schedule(edited, list(form.cleaned_data["sources"]))
        messages.success(request, f"Schedule “{edited.name}” saved.")
        return redirect("insights:report_schedules")
    return render(
        request, "insights/report_schedule_form.html", {"form": form, "schedule": schedule}
    )


@role_required("insights.delete_reportschedule")
@require_POST
def schedule_delete(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = get_object_or_404(ReportSchedule, pk=schedule_id)
    delete_schedule(schedule)
    messages.success(request, f"Schedule “{schedule.name}” deleted.")
    return redirect("insights:report_schedules")
