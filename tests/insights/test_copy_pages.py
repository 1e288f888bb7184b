"""The product-copy pages: start a draft, follow it, edit, copy and download it."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from insights.copy.writing import MAX_THEMES
from insights.models import CopyDraft, CopyKind, ModelVersion, RunStatus, Theme
from tests.conftest import wait_until
from tests.insights.test_copywriting import item_ids_of, sync_theme

DRAFT_TEXT = (
    "# Changelog\n\n- Fixed: sync.\n\n## Based on feedback\n\n- [Item 1](/feedback/1/): “x”\n"
)


def person(username: str, role: str | None) -> Client:
    user = User.objects.create_user(username, password="a-long-password-1")
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pm(db: None) -> Client:
    return person("pam", roles.PRODUCT_MANAGER)


@pytest.fixture
def support_lead(db: None) -> Client:
    return person("sue", roles.SUPPORT_LEAD)


def finished_draft(**fields: object) -> CopyDraft:
    version, _ = ModelVersion.objects.get_or_create(name="gemma.gguf", sha256="a" * 64)
    values = {
        "kind": CopyKind.CHANGELOG,
        "status": RunStatus.DONE,
        "done": 1,
        "total": 1,
        "text": DRAFT_TEXT,
        "cited_item_ids": [1],
        "prompt": "Topic: Bank sync failures\nChangelog:",
        "prompt_version": "copy-1",
        "llm_model": version,
        "finished_at": timezone.now(),
        **fields,
    }
    return CopyDraft.objects.create(**values)


pytestmark = pytest.mark.django_db


def test_the_list_offers_live_themes_and_shows_the_drafts(pm: Client) -> None:
    theme = sync_theme()
    sync_theme("Old sync theme", status="retired")
    draft = finished_draft()
    draft.themes.set([theme])

    page = pm.get(reverse("insights:copy_list"))

    assert list(page.context["form"].fields["themes"].queryset) == [theme]
    html = page.content.decode()
    assert f'href="{reverse("insights:copy_detail", args=[draft.pk])}"' in html
    assert "Changelog line" in html and "Bank sync failures" in html


def test_a_theme_link_preselects_the_theme(pm: Client) -> None:
    theme = sync_theme()
    html = pm.get(reverse("insights:copy_list"), {"theme": theme.pk}).content.decode()
    assert re.search(rf'<input[^>]*value="{theme.pk}"[^>]*checked', html)


def test_a_product_manager_starts_a_draft_and_lands_on_its_page(pm: Client) -> None:
    sync, export = (
        sync_theme(),
        sync_theme("CSV export errors", [("CSV export fails.", "negative")]),
    )

    response = pm.post(
        reverse("insights:copy_list"), {"themes": [sync.pk, export.pk], "kind": "help_article"}
    )

    draft = CopyDraft.objects.get()
    assert response.url == reverse("insights:copy_detail", args=[draft.pk])
    assert (draft.kind, draft.status, draft.total) == ("help_article", RunStatus.QUEUED, 2)
    assert set(draft.themes.all()) == {sync, export}
    assert draft.created_by.username == "pam"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "changelog"}, "themes", "This field is required."),
        ({"themes": ["THEME"], "kind": "poem"}, "kind", "Select a valid choice."),
        ({"themes": ["RETIRED"], "kind": "changelog"}, "themes", "Select a valid choice."),
    ],
)
def test_the_form_rejects_what_cannot_be_drafted(
    pm: Client, data: dict[str, object], field: str, message: str
) -> None:
    live, retired = sync_theme(), sync_theme("Old", status="retired")
    ids = {"THEME": live.pk, "RETIRED": retired.pk}
    data = {**data, "themes": [ids[name] for name in data.get("themes", [])]}

    page = pm.post(reverse("insights:copy_list"), data)

    assert page.status_code == 200
    assert message in page.context["form"].errors[field][0]
    assert not CopyDraft.objects.exists()


def test_the_form_caps_the_themes_of_one_draft(pm: Client) -> None:
    themes = [
        sync_theme(f"Theme {n}", [(f"Problem number {n} again.", "negative")])
        for n in range(MAX_THEMES + 1)
    ]
    page = pm.post(
        reverse("insights:copy_list"), {"themes": [t.pk for t in themes], "kind": "changelog"}
    )
    assert page.context["form"].errors["themes"] == [
        f"Pick at most {MAX_THEMES} themes for one draft."
    ]
    assert not CopyDraft.objects.exists()


def test_a_support_lead_reads_drafts_but_cannot_start_or_edit_one(support_lead: Client) -> None:
    theme = sync_theme()
    draft = finished_draft()

    listing = support_lead.get(reverse("insights:copy_list"))
    assert listing.status_code == 200 and 'id="new-copy"' not in listing.content.decode()
    started = support_lead.post(
        reverse("insights:copy_list"), {"themes": [theme.pk], "kind": "changelog"}
    )
    assert started.status_code == 403
    detail = reverse("insights:copy_detail", args=[draft.pk])
    assert support_lead.get(detail).status_code == 200
    assert support_lead.post(detail, {"text": "mine now"}).status_code == 403
    assert support_lead.get(reverse("insights:copy_download", args=[draft.pk])).status_code == 200
    assert CopyDraft.objects.get().text == DRAFT_TEXT


def test_people_without_a_role_and_anonymous_people_reach_no_draft(client: Client) -> None:
    draft = finished_draft()
    urls = [
        reverse("insights:copy_list"),
        reverse("insights:copy_detail", args=[draft.pk]),
        reverse("insights:copy_status", args=[draft.pk]),
        reverse("insights:copy_download", args=[draft.pk]),
    ]
    for url in urls:
        assert client.get(url).url.startswith(reverse("login"))
    no_role = person("nora", None)
    for url in urls:
        assert no_role.get(url).status_code == 403


def test_editing_a_draft_saves_the_text_with_who_and_when(pm: Client) -> None:
    draft = finished_draft()
    before = timezone.now()

    response = pm.post(
        reverse("insights:copy_detail", args=[draft.pk]), {"text": "# Changelog\n\n- Edited.\n"}
    )

    assert response.url == reverse("insights:copy_detail", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.text == "# Changelog\n\n- Edited.\n"
    assert draft.edited_by.username == "pam"
    assert draft.edited_at >= before
    assert "Last edited by pam" in pm.get(response.url).content.decode()


def test_a_draft_being_written_cannot_be_edited(pm: Client) -> None:
    draft = CopyDraft.objects.create(kind=CopyKind.CHANGELOG, status=RunStatus.RUNNING)
    response = pm.post(reverse("insights:copy_detail", args=[draft.pk]), {"text": "early"})
    assert response.status_code == 409
    assert CopyDraft.objects.get().text == ""


def test_forms_need_the_csrf_token(db: None) -> None:
    user = User.objects.create_user("pam", password="x")
    user.groups.add(Group.objects.get(name=roles.PRODUCT_MANAGER))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    draft = finished_draft()
    detail = reverse("insights:copy_detail", args=[draft.pk])
    assert client.post(detail, {"text": "forged"}).status_code == 403
    assert client.post(reverse("insights:copy_list"), {"kind": "changelog"}).status_code == 403
    assert 'name="csrfmiddlewaretoken"' in client.get(detail).content.decode()


def test_the_download_is_the_markdown_as_an_attachment(pm: Client) -> None:
    draft = finished_draft(text="# Changelog\n\n- Fixed: “sync” ✓\n")
    response = pm.get(reverse("insights:copy_download", args=[draft.pk]))
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="feedlens-changelog-{draft.pk}.md"'
    )
    assert response.content.decode("utf-8") == "# Changelog\n\n- Fixed: “sync” ✓\n"


def test_a_draft_not_yet_written_has_nothing_to_download(pm: Client) -> None:
    draft = CopyDraft.objects.create(kind=CopyKind.CHANGELOG)
    assert pm.get(reverse("insights:copy_download", args=[draft.pk])).status_code == 404


def test_the_status_reports_progress_then_the_draft(pm: Client) -> None:
    draft = CopyDraft.objects.create(
        kind=CopyKind.CHANGELOG, status=RunStatus.RUNNING, done=1, total=3
    )
    url = reverse("insights:copy_status", args=[draft.pk])
    running = pm.get(url).json()
    assert (running["status"], running["finished"], running["done"], running["total"]) == (
        "running",
        False,
        1,
        3,
    )
    assert running["text"] == ""

    finished = finished_draft()
    done = pm.get(reverse("insights:copy_status", args=[finished.pk])).json()
    assert done["finished"] and done["status_label"] == "Done"
    assert done["text"] == DRAFT_TEXT
    assert done["cited_item_ids"] == [1]
    assert done["model"] == f"gemma.gguf ({'a' * 12})"
    assert done["prompt"].startswith("Topic: Bank sync failures")


def test_the_draft_page_shows_progress_then_the_editor_with_its_provenance(pm: Client) -> None:
    running = CopyDraft.objects.create(
        kind=CopyKind.CHANGELOG, status=RunStatus.RUNNING, done=1, total=2
    )
    html = pm.get(reverse("insights:copy_detail", args=[running.pk])).content.decode()
    assert '<div id="copy-progress" data-job-shown-when="queued,running">' in html
    assert 'value="1"' in html
    assert '<div id="copy-editor" data-job-shown-when="done" hidden>' in html
    assert f'data-status-url="/copy/{running.pk}/status.json"' in html

    done = finished_draft()
    html = pm.get(reverse("insights:copy_detail", args=[done.pk])).content.decode()
    assert '<div id="copy-progress" data-job-shown-when="queued,running" hidden>' in html
    assert "Fixed: sync." in html and 'id="copy-to-clipboard"' in html
    assert f'href="/copy/{done.pk}/download.md"' in html
    assert "gemma.gguf (aaaaaaaaaaaa)" in html and "copy-1" in html
    assert re.search(r'<script src="/static/js/job_progress(\.\w+)?\.js">', html)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script (CSP)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_draft_started_on_the_page_is_written_by_a_worker(celery_worker: str) -> None:
    client = person("pam", roles.PRODUCT_MANAGER)
    theme = sync_theme()

    response = client.post(
        reverse("insights:copy_list"), {"themes": [theme.pk], "kind": "changelog"}
    )

    draft = CopyDraft.objects.get()
    assert response.url == reverse("insights:copy_detail", args=[draft.pk])
    wait_until(
        lambda: CopyDraft.objects.get(pk=draft.pk).is_finished, 180, "the draft was not written"
    )
    status = client.get(reverse("insights:copy_status", args=[draft.pk])).json()
    assert (status["status"], status["done"], status["total"], status["error"]) == (
        "done",
        1,
        1,
        "",
    )
    assert status["text"].startswith("# Changelog\n\n- ")
    assert set(status["cited_item_ids"]) <= item_ids_of(theme)
    assert all(f"/feedback/{item_id}/" in status["text"] for item_id in status["cited_item_ids"])
    assert Theme.objects.get(pk=theme.pk).copy_drafts.get() == draft
