import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ingestion.forms import MappingForm, UploadForm, initial_mapping
from ingestion.importers import ImportFileError, preview_file
from ingestion.jobs import create_import_job, queue_import, save_upload
from ingestion.models import DataSource, ImportJob, ImportStatus
from ingestion.webhook import PayloadError, accept_items


def _json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@csrf_exempt  # authenticated by the source's token, not a browser session
@require_POST
def webhook(request: HttpRequest, source_id: int) -> JsonResponse:
    source = DataSource.objects.filter(pk=source_id).first()
    # An unknown source and a wrong token answer alike, so ids cannot be probed.
    if source is None or not source.accepts_webhook_token(_bearer_token(request)):
        return _json_error("missing or wrong token: send 'Authorization: Bearer TOKEN'", 401)
    if not source.enabled:
        return _json_error(f"the source {source.name!r} is disabled", 403)
    if request.content_type != "application/json":
        return _json_error("send the body as application/json", 415)
    limit = settings.FEEDLENS_WEBHOOK_MAX_BYTES
    # Read one byte past the limit rather than trust Content-Length, which may be absent.
    body = request.read(limit + 1)
    if len(body) > limit:
        return _json_error(f"the body is larger than {limit // 1024} KB", 413)
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return _json_error("the body is not UTF-8", 400)
    except json.JSONDecodeError as error:
        return _json_error(f"the body is not valid JSON: {error}", 400)
    try:
        result = accept_items(source, payload)
    except PayloadError as error:
        return _json_error(str(error), 400)
    valid = result.received - len(result.problems)
    return JsonResponse(result.as_dict(), status=200 if valid else 422)


@login_required
@permission_required("ingestion.add_importjob", raise_exception=True)
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]
        path = save_upload(upload_file)
        job = create_import_job(
            form.chosen_source(),
            path,
            original_name=Path(upload_file.name).name,
            item_kind=form.cleaned_data["item_kind"],
            encoding=form.cleaned_data["encoding"],
            created_by=request.user,
        )
        return redirect("ingestion:mapping", job_id=job.pk)
    jobs = ImportJob.objects.select_related("source")[:10]
    return render(request, "ingestion/upload.html", {"form": form, "jobs": jobs})


@login_required
@permission_required("ingestion.add_importjob", raise_exception=True)
def mapping(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    if job.status != ImportStatus.UPLOADED:
        return redirect("ingestion:import_job", job_id=job.pk)
    try:
        columns, rows = preview_file(Path(job.file_path), job.file_format, job.encoding)
    except ImportFileError as error:
        return render(request, "ingestion/mapping.html", {"job": job, "file_error": str(error)})
    form = MappingForm(request.POST or None, columns=columns, initial=initial_mapping(columns))
    if request.method == "POST" and form.is_valid():
        queue_import(job, form.mapping())
        return redirect("ingestion:import_job", job_id=job.pk)
    context = {"job": job, "form": form, "columns": columns, "rows": rows}
    return render(request, "ingestion/mapping.html", context)


@login_required
@permission_required("ingestion.view_importjob", raise_exception=True)
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("source"), pk=job_id)
    return render(request, "ingestion/import_job.html", {"job": job})


@login_required
@permission_required("ingestion.view_importjob", raise_exception=True)
@require_GET
def import_job_status(request: HttpRequest, job_id: int) -> JsonResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "finished": job.is_finished,
            "percent": job.percent_done,
            "rows_done": job.rows_done,
            "items_created": job.items_created,
            "duplicates": job.duplicates,
            "rows_failed": job.rows_failed,
            "row_errors": job.row_errors[:50],
            "error": job.error,
        }
    )
