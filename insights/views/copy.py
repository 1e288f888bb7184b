"""Generated product copy: pick themes and a kind, watch the draft being written, edit it,
copy or download it."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.people import signed_in_person
from feedlens.access import role_required
from feedlens.jobs import job_status_response
from insights.forms import CopyDraftForm, CopyEditForm
from insights.jobs import start_copy_draft
from insights.models import CopyDraft, RunStatus


@role_required("insights.view_copydraft")
def copy_list(request: HttpRequest) -> HttpResponse:
    """Recent drafts, and a form to start one (?theme=<id> preselects a theme)."""
    if request.method == "POST":
        if not request.user.has_perm("insights.add_copydraft"):
            raise PermissionDenied
        form = CopyDraftForm(request.POST)
        if form.is_valid():
            draft = start_copy_draft(
                form.cleaned_data["kind"],
                [theme.pk for theme in form.cleaned_data["themes"]],
                request.user,
            )
            return redirect("insights:copy_detail", draft_id=draft.pk)
    else:
        preselected = request.GET.get("theme", "")
        form = CopyDraftForm(initial={"themes": [preselected] if preselected.isdigit() else []})
    drafts = CopyDraft.objects.select_related("created_by").prefetch_related("themes")[:50]
    return render(request, "insights/copy_list.html", {"form": form, "drafts": drafts})


@role_required("insights.view_copydraft")
def copy_detail(request: HttpRequest, draft_id: int) -> HttpResponse:
    """The draft's progress while it is written, then the editable draft."""
    draft = get_object_or_404(_drafts(), pk=draft_id)
    form = CopyEditForm(initial={"text": draft.text})
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("insights.change_copydraft"):
            raise PermissionDenied
        form = CopyEditForm(request.POST)
        if draft.status != RunStatus.DONE:
            form.add_error(None, "The draft is still being written; edit it once it is done.")
            status = 409
        elif form.is_valid():
            draft.text = form.cleaned_data["text"]
            draft.edited_by, draft.edited_at = signed_in_person(request.user), timezone.now()
            draft.save(update_fields=["text", "edited_by", "edited_at"])
            messages.success(request, "Draft saved.")
            return redirect("insights:copy_detail", draft_id=draft.pk)
    return render(
        request, "insights/copy_detail.html", {"draft": draft, "form": form}, status=status
    )


@role_required("insights.view_copydraft")
@require_GET
def copy_status(request: HttpRequest, draft_id: int) -> JsonResponse:
    return job_status_response(_drafts(), draft_id)


@role_required("insights.view_copydraft")
@require_GET
def copy_download(request: HttpRequest, draft_id: int) -> HttpResponse:
    """The draft as a Markdown file."""
    draft = get_object_or_404(CopyDraft, pk=draft_id)
    if draft.status != RunStatus.DONE:
        raise Http404("The draft is not written yet.")
    response = HttpResponse(draft.text, content_type="text/markdown; charset=utf-8")
    filename = f"feedlens-{draft.kind.replace('_', '-')}-{draft.pk}.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _drafts() -> QuerySet[CopyDraft]:
    return CopyDraft.objects.select_related("llm_model", "created_by", "edited_by")
