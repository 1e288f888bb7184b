from pathlib import Path

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from feedlens.access import role_required
from feedlens.jobs import QueueUnreachable, job_status_response
from ingestion.forms import SOURCE_FORMS, MappingForm, UploadForm, initial_mapping, source_form
from ingestion.importers import ImportFileError, preview_file
from ingestion.jobs import create_import_job, queue_import, queue_sync, save_upload
from ingestion.models import DataSource, ImportJob, ImportStatus, SourceKind
from ingestion.webhook import PayloadError, WebhookResult, accept_items, read_payload


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
    try:
        result = accept_items(source, read_payload(request.content_type or "", request))
    except PayloadError as error:
        return _json_error(str(error), error.status)
    return JsonResponse(result.as_dict(), status=_webhook_status(result))


def _webhook_status(result: WebhookResult) -> int:
    """200 when every item was valid, 207 when some were (the body says which were not),
    422 when none was."""
    if not result.valid:
        return 422
    return 207 if result.problems else 200


@role_required("ingestion.add_importjob")
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


@role_required("ingestion.add_importjob")
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
        if scale := form.cleaned_data["rating_scale"]:  # the file says what its ratings are
            DataSource.objects.filter(pk=job.source_id).update(rating_scale=scale)
        queue_import(job, form.mapping())
        return redirect("ingestion:import_job", job_id=job.pk)
    context = {"job": job, "form": form, "columns": columns, "rows": rows}
    return render(request, "ingestion/mapping.html", context)


@role_required("ingestion.view_importjob")
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("source"), pk=job_id)
    return render(request, "ingestion/import_job.html", {"job": job})


@role_required("ingestion.view_importjob")
@require_GET
def import_job_status(request: HttpRequest, job_id: int) -> JsonResponse:
    return job_status_response(ImportJob.objects.all(), job_id)


# ---- Data sources: the admin area's source pages (Admin role)

SOURCE_PERMISSION = "ingestion.change_datasource"


@role_required(SOURCE_PERMISSION)
@require_GET
def source_list(request: HttpRequest) -> HttpResponse:
    sources = DataSource.objects.select_related("project").annotate(item_count=Count("items"))
    return render(request, "ingestion/source_list.html", {"sources": sources})


@role_required(SOURCE_PERMISSION)
def source_create(request: HttpRequest) -> HttpResponse:
    """Pick a kind, then fill in that kind's form."""
    kind = request.GET.get("kind", "")
    if kind not in SOURCE_FORMS:
        return render(request, "ingestion/source_kinds.html", {"kinds": SourceKind.choices})
    form = source_form(kind, request.POST or None)
    if request.method == "POST" and form.is_valid():
        source = form.save()
        messages.success(request, f"Created the source {source.name!r}.")
        return redirect("ingestion:source_edit", source_id=source.pk)
    context = {"form": form, "kind_label": SourceKind(kind).label}
    return render(request, "ingestion/source_form.html", context)


@role_required(SOURCE_PERMISSION)
def source_edit(request: HttpRequest, source_id: int) -> HttpResponse:
    source = get_object_or_404(DataSource, pk=source_id)
    form = source_form(source.kind, request.POST or None, instance=source)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved the source {source.name!r}.")
        return redirect("ingestion:source_edit", source_id=source.pk)
    context = {"form": form, "source": source, "kind_label": source.get_kind_display()}
    return render(request, "ingestion/source_form.html", context)


@role_required(SOURCE_PERMISSION)
@require_POST
def source_toggle(request: HttpRequest, source_id: int) -> HttpResponse:
    source = get_object_or_404(DataSource, pk=source_id)
    source.enabled = not source.enabled
    source.save(update_fields=["enabled"])
    state = "enabled" if source.enabled else "disabled"
    messages.success(request, f"The source {source.name!r} is {state}.")
    return redirect("ingestion:source_list")


@role_required(SOURCE_PERMISSION)
@require_POST
def source_sync(request: HttpRequest, source_id: int) -> HttpResponse:
    source = get_object_or_404(DataSource, pk=source_id)
    if not (source.enabled and source.is_polling):
        messages.error(request, f"{source.name!r} is not an enabled source that Feedlens fetches.")
    else:
        try:
            queue_sync(source.pk)
        except QueueUnreachable as error:
            messages.error(request, f"No sync of {source.name!r} was queued. {error}")
        else:
            messages.success(request, f"A sync of {source.name!r} is queued.")
    return redirect("ingestion:source_list")


@role_required(SOURCE_PERMISSION)
@require_POST
@never_cache  # the page shows the new token, once
def source_rotate_token(request: HttpRequest, source_id: int) -> HttpResponse:
    source = get_object_or_404(DataSource, pk=source_id)
    if not source.enabled:
        messages.error(request, f"The source {source.name!r} is disabled; enable it first.")
        return redirect("ingestion:source_edit", source_id=source.pk)
    token = source.rotate_webhook_token()  # as `manage.py webhook_token` does
    url = request.build_absolute_uri(reverse("ingestion:webhook", args=[source.pk]))
    context = {"source": source, "token": token, "webhook_url": url}
    return render(request, "ingestion/source_token.html", context)
