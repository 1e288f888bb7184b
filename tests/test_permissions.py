"""Who reaches what: every named URL of the product against every persona.

The table below lists each URL with its method and what it needs; one test checks that the
table names exactly the URLs the resolver knows, so a new page without a rule here fails.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from ingestion.jobs import create_import_job, save_upload
from ingestion.models import DataSource, FeedbackItem, ImportJob
from insights.models import (
    AnalysisRun,
    CopyDraft,
    Correction,
    EvaluationLabel,
    ItemSentiment,
    Report,
    ReportSchedule,
    RunStatus,
    Theme,
    ThemeAssignment,
)
from tests.factories import make_theme

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
NO_ROLE_MESSAGE = "You have no role in Feedlens yet"

# What an endpoint needs, and which personas have it.
PUBLIC = "public"  # the login and logout forms
BROWSE = "browse"  # every role
EDIT = "edit"  # correct, label, generate copy, start analyses: product managers and admins
IMPORT = "import"  # imports: admins only
PEOPLE = "people"  # the admin area: invite people, give roles, deactivate: admins only
SOURCES = "sources"  # the admin area's data sources: admins only
REPORTS = "reports"  # make reports and schedule them: support leads and admins
TOKEN = "token"  # the webhook: its source's token, never a session
MAY = {
    BROWSE: {"support", "pm", "admin"},
    EDIT: {"pm", "admin"},
    IMPORT: {"admin"},
    PEOPLE: {"admin"},
    SOURCES: {"admin"},
    REPORTS: {"support", "admin"},
}
PERSONAS = ["anonymous", "norole", "support", "pm", "admin"]


@dataclass(frozen=True)
class World:
    """A little of everything, so that every URL has something to show or to change."""

    source: DataSource  # pushed through the webhook
    feed: DataSource  # fetched by Feedlens
    item: FeedbackItem
    other_item: FeedbackItem
    theme: Theme
    other_theme: Theme
    draft: CopyDraft
    run: AnalysisRun
    job: ImportJob
    webhook_token: str
    invited: User  # invited, no password yet
    former: User  # deactivated
    report: Report
    schedule: ReportSchedule


def make_item(source: DataSource, text: str, day: int) -> FeedbackItem:
    created_at = datetime(2026, 11, day, 12, tzinfo=UTC)
    return FeedbackItem.objects.create(
        source=source, kind="review", text=text, content_hash=text, created_at=created_at
    )


def make_world() -> World:
    source = DataSource.objects.create(name="App Store", kind="webhook")
    token = source.rotate_webhook_token()
    feed = DataSource.objects.create(
        name="Status feed", kind="rss", config={"url": "https://status.example.com/feed"}
    )
    item = make_item(source, "Scanning a receipt crashes the app every time.", 2)
    other_item = make_item(source, "Bank sync has failed for three days.", 3)
    theme = make_theme(
        "Receipt scanning crashes", [item], ["negative"], representative_item_ids=[item.pk]
    )
    other_theme = make_theme(
        "Bank sync fails", [other_item], ["negative"], representative_item_ids=[other_item.pk]
    )
    # In its theme by its first words, as a long item is by a sentence: the sentiment
    # toward the theme can be corrected.
    ThemeAssignment.objects.filter(item=item, theme=theme).update(unit_start=0, unit_end=18)
    draft = CopyDraft.objects.create(
        kind="release_note",
        status=RunStatus.DONE,
        text="Fixed: scanning a receipt no longer crashes the app.",
        cited_item_ids=[item.pk],
        finished_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    draft.themes.add(theme)
    run = AnalysisRun.objects.create(status=RunStatus.DONE, stage="describing")
    csv = SimpleUploadedFile("reviews.csv", (FIXTURES / "reviews.csv").read_bytes())
    job = create_import_job(
        source, save_upload(csv), original_name="reviews.csv", item_kind="review"
    )
    invited = User.objects.create_user("invited@example.com", email="invited@example.com")
    former = User.objects.create_user("former", is_active=False)
    # Someone who forgot their password (any stored hash counts as a password that is set).
    User.objects.create(username="forgetful", email="forgetful@example.com", password="x$1$y")
    report = Report.objects.create(
        period_start=date(2026, 11, 2),
        period_end=date(2026, 11, 8),
        time_zone="UTC",
        status=RunStatus.DONE,
        html=b"<html><body><main><h1>Week 45</h1></main></body></html>",
        themes_csv=b"theme,items\nReceipt scanning crashes,1\n",
    )
    schedule = ReportSchedule.objects.create(
        name="Monday digest", time=time(8), time_zone="UTC", recipients=["pm@example.com"]
    )
    return World(
        source,
        feed,
        item,
        other_item,
        theme,
        other_theme,
        draft,
        run,
        job,
        token,
        invited,
        former,
        report,
        schedule,
    )


@pytest.fixture
def world() -> World:
    return make_world()


def snapshot() -> dict[str, object]:
    """Return everything a POST could change, to show that a refused one changed nothing."""
    return {
        "corrections": Correction.objects.count(),
        "labels": EvaluationLabel.objects.count(),
        "runs": AnalysisRun.objects.count(),
        "reports": Report.objects.count(),
        "schedules": sorted(ReportSchedule.objects.values_list("pk", "name", "enabled")),
        "drafts": sorted(CopyDraft.objects.values_list("pk", "text", "status")),
        "jobs": sorted(ImportJob.objects.values_list("pk", "status")),
        "themes": sorted(Theme.objects.values_list("pk", "name", "status", "merged_into")),
        "sentiments": sorted(ItemSentiment.objects.values_list("item", "corrected")),
        "assignments": sorted(ThemeAssignment.objects.values_list("item", "theme", "sentiment")),
        "items": FeedbackItem.objects.count(),
        "people": sorted(User.objects.values_list("pk", "is_active", "password", "groups")),
        "mails": len(mail.outbox),
        "sources": sorted(
            DataSource.objects.values_list("pk", "name", "enabled", "webhook_token_digest")
        ),
    }


Args = Callable[[World], list[object]]
Data = Callable[[World], dict[str, Any]]


def _no_args(world: World) -> list[object]:
    return []


def _no_data(world: World) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    needs: str
    args: Args = _no_args
    # A valid POST: where it is allowed, it must change something.
    data: Data = _no_data
    changes: bool = False
    query: str = ""  # appended to the URL
    # The page whose form posts here (for the CSRF tests); None: the endpoint's own page.
    form_page: tuple[str, Args] | None = None

    def url(self, world: World) -> str:
        return reverse(self.name, args=self.args(world)) + self.query

    def __str__(self) -> str:
        return f"{self.method} {self.name}{self.query}"


def item_id(world: World) -> list[object]:
    return [world.item.pk]


def theme_id(world: World) -> list[object]:
    return [world.theme.pk]


def draft_id(world: World) -> list[object]:
    return [world.draft.pk]


def run_id(world: World) -> list[object]:
    return [world.run.pk]


def job_id(world: World) -> list[object]:
    return [world.job.pk]


def source_id(world: World) -> list[object]:
    return [world.source.pk]


def invited_id(world: World) -> list[object]:
    return [world.invited.pk]


def set_password_link(world: World) -> list[object]:
    uid = urlsafe_base64_encode(force_bytes(world.invited.pk))
    return [uid, default_token_generator.make_token(world.invited)]


def set_password_form(world: World) -> list[object]:
    """The page the link leads to, once its token is in the session."""
    return [urlsafe_base64_encode(force_bytes(world.invited.pk)), "set-password"]


def upload_data(world: World) -> dict[str, Any]:
    csv = SimpleUploadedFile("reviews.csv", (FIXTURES / "reviews.csv").read_bytes())
    return {"source": world.source.pk, "item_kind": "review", "encoding": "auto", "file": csv}


ITEM_PAGE = ("insights:item_detail", item_id)
THEME_PAGE = ("insights:theme_detail", theme_id)
ENDPOINTS = [
    Endpoint("login", "get", PUBLIC),
    Endpoint("login", "post", PUBLIC, data=lambda w: {"username": "x", "password": "y"}),
    Endpoint("logout", "post", PUBLIC, form_page=("insights:overview", _no_args)),
    Endpoint("password_reset_confirm", "get", PUBLIC, set_password_link),
    Endpoint(
        "password_reset_confirm",
        "post",
        PUBLIC,
        set_password_form,
        data=lambda w: {
            "new_password1": "a-new-pass-phrase-9",
            "new_password2": "a-new-pass-phrase-9",
        },
        changes=True,
        form_page=("password_reset_confirm", set_password_link),
    ),
    Endpoint("ingestion:webhook", "post", TOKEN, source_id),
    Endpoint("ingestion:upload", "get", IMPORT),
    Endpoint("ingestion:upload", "post", IMPORT, data=upload_data, changes=True),
    Endpoint("ingestion:mapping", "get", IMPORT, job_id),
    Endpoint(
        "ingestion:mapping",
        "post",
        IMPORT,
        job_id,
        data=lambda w: {"text": "body", "created_at": "posted", "timezone": "UTC"},
        changes=True,
    ),
    Endpoint("ingestion:import_job", "get", IMPORT, job_id),
    Endpoint("ingestion:import_job_status", "get", IMPORT, job_id),
    Endpoint("insights:overview", "get", BROWSE),
    Endpoint("insights:item_list", "get", BROWSE),
    Endpoint("insights:item_detail", "get", BROWSE, item_id),
    Endpoint(
        "insights:correct_sentiment",
        "post",
        EDIT,
        item_id,
        data=lambda w: {"sentiment": "positive"},
        changes=True,
        form_page=ITEM_PAGE,
    ),
    Endpoint(
        "insights:correct_theme_sentiment",
        "post",
        EDIT,
        lambda w: [w.item.pk, w.theme.pk],
        data=lambda w: {f"theme-{w.theme.pk}-sentiment": "positive"},
        changes=True,
        form_page=ITEM_PAGE,
    ),
    Endpoint(
        "insights:move_item",
        "post",
        EDIT,
        item_id,
        data=lambda w: {"theme": w.other_theme.pk},
        changes=True,
        form_page=ITEM_PAGE,
    ),
    Endpoint("insights:search", "get", BROWSE),
    Endpoint("insights:theme_list", "get", BROWSE),
    Endpoint("insights:theme_detail", "get", BROWSE, theme_id),
    Endpoint(
        "insights:rename_theme",
        "post",
        EDIT,
        theme_id,
        data=lambda w: {"name": "Receipts crash on scan"},
        changes=True,
        form_page=THEME_PAGE,
    ),
    Endpoint(
        "insights:merge_theme",
        "post",
        EDIT,
        theme_id,
        data=lambda w: {"target": w.other_theme.pk},
        changes=True,
        form_page=THEME_PAGE,
    ),
    Endpoint(
        "insights:set_theme_status",
        "post",
        EDIT,
        theme_id,
        data=lambda w: {"status": "resolved"},
        changes=True,
        form_page=THEME_PAGE,
    ),
    Endpoint("insights:copy_list", "get", BROWSE),
    Endpoint(
        "insights:copy_list",
        "post",
        EDIT,
        data=lambda w: {"kind": "changelog", "themes": [w.theme.pk]},
        changes=True,
    ),
    Endpoint("insights:copy_detail", "get", BROWSE, draft_id),
    Endpoint(
        "insights:copy_detail",
        "post",
        EDIT,
        draft_id,
        data=lambda w: {"text": "Fixed: receipts scan again."},
        changes=True,
    ),
    Endpoint("insights:copy_status", "get", BROWSE, draft_id),
    Endpoint("insights:copy_download", "get", BROWSE, draft_id),
    Endpoint("insights:analysis", "get", BROWSE),
    Endpoint("insights:analysis", "post", EDIT, data=lambda w: {"recluster": "on"}, changes=True),
    Endpoint("insights:analysis_run", "get", BROWSE, run_id),
    Endpoint("insights:analysis_run_status", "get", BROWSE, run_id),
    Endpoint("insights:evaluation", "get", BROWSE),
    Endpoint("alerts:list", "get", BROWSE),
    Endpoint("insights:evaluation_label", "get", EDIT),
    Endpoint(
        "insights:evaluation_label",
        "post",
        EDIT,
        data=lambda w: {"item": w.item.pk, "sentiment": "neutral", "theme_is_right": "yes"},
        changes=True,
    ),
    Endpoint("accounts:admin_area", "get", PEOPLE),
    Endpoint("accounts:people", "get", PEOPLE),
    Endpoint(
        "accounts:invite",
        "post",
        PEOPLE,
        data=lambda w: {"email": "new@example.com", "role": "Support lead"},
        changes=True,
        form_page=("accounts:people", _no_args),
    ),
    Endpoint(
        "accounts:reinvite",
        "post",
        PEOPLE,
        invited_id,
        changes=True,
        form_page=("accounts:people", _no_args),
    ),
    Endpoint(
        "accounts:change_role",
        "post",
        PEOPLE,
        invited_id,
        data=lambda w: {"role": "Product manager"},
        changes=True,
        form_page=("accounts:people", _no_args),
    ),
    Endpoint(
        "accounts:deactivate",
        "post",
        PEOPLE,
        invited_id,
        changes=True,
        form_page=("accounts:people", _no_args),
    ),
    Endpoint(
        "accounts:reactivate",
        "post",
        PEOPLE,
        lambda w: [w.former.pk],
        changes=True,
        form_page=("accounts:people", _no_args),
    ),
]
SOURCE_FIELDS = {"name": "Play Store", "item_kind": "review", "enabled": "on"}
SOURCE_PAGE = ("ingestion:source_edit", source_id)
ENDPOINTS += [
    Endpoint("ingestion:source_list", "get", SOURCES),
    Endpoint("ingestion:source_create", "get", SOURCES),
    Endpoint("ingestion:source_create", "get", SOURCES, query="?kind=webhook"),
    Endpoint(
        "ingestion:source_create",
        "post",
        SOURCES,
        data=lambda w: SOURCE_FIELDS,
        changes=True,
        query="?kind=webhook",
    ),
    Endpoint("ingestion:source_edit", "get", SOURCES, source_id),
    Endpoint(
        "ingestion:source_edit",
        "post",
        SOURCES,
        source_id,
        data=lambda w: SOURCE_FIELDS,
        changes=True,
    ),
    Endpoint(
        "ingestion:source_toggle", "post", SOURCES, source_id, changes=True, form_page=SOURCE_PAGE
    ),
    # A sync is handed to a worker once the request commits: nothing changes before.
    Endpoint(
        "ingestion:source_sync",
        "post",
        SOURCES,
        lambda w: [w.feed.pk],
        form_page=("ingestion:source_list", _no_args),
    ),
    Endpoint(
        "ingestion:source_rotate_token",
        "post",
        SOURCES,
        source_id,
        changes=True,
        form_page=SOURCE_PAGE,
    ),
]


def report_id(world: World) -> list[object]:
    return [world.report.pk]


def schedule_id(world: World) -> list[object]:
    return [world.schedule.pk]


SCHEDULE_FIELDS = {
    "name": "Friday digest",
    "weekday": "4",
    "time": "09:30",
    "time_zone": "UTC",
    "recipients": "lead@example.com",
    "enabled": "on",
}
ENDPOINTS += [
    Endpoint("password_reset", "get", PUBLIC),
    Endpoint(
        "password_reset",
        "post",
        PUBLIC,
        data=lambda w: {"email": "forgetful@example.com"},
        changes=True,
    ),
    Endpoint("password_reset_done", "get", PUBLIC),
    Endpoint("insights:report_list", "get", BROWSE),
    Endpoint(
        "insights:report_list",
        "post",
        REPORTS,
        data=lambda w: {"week": "2026-W45", "time_zone": "UTC", "formats": ["html", "csv"]},
        changes=True,
    ),
    Endpoint("insights:report_detail", "get", BROWSE, report_id),
    Endpoint("insights:report_status", "get", BROWSE, report_id),
    Endpoint("insights:report_download", "get", BROWSE, lambda w: [w.report.pk, "html"]),
    Endpoint("insights:report_schedules", "get", REPORTS),
    Endpoint("insights:report_schedule_new", "get", REPORTS),
    Endpoint(
        "insights:report_schedule_new",
        "post",
        REPORTS,
        data=lambda w: SCHEDULE_FIELDS,
        changes=True,
    ),
    Endpoint("insights:report_schedule", "get", REPORTS, schedule_id),
    Endpoint(
        "insights:report_schedule",
        "post",
        REPORTS,
        schedule_id,
        data=lambda w: SCHEDULE_FIELDS,
        changes=True,
    ),
    Endpoint(
        "insights:report_schedule_delete",
        "post",
        REPORTS,
        schedule_id,
        changes=True,
        form_page=("insights:report_schedule", schedule_id),
    ),
]
SESSION_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if endpoint.needs != TOKEN]
POSTS = [endpoint for endpoint in ENDPOINTS if endpoint.method == "post"]


def named_urls(resolver: URLResolver | None = None, prefix: str = "") -> set[str]:
    """Return the name, with its namespace, of every URL outside the admin site."""
    names = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace != "admin":
                inner = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
                names |= named_urls(pattern, inner)
        elif pattern.name:
            names.add(prefix + pattern.name)
    return names


def client_for(persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        username = {"norole": "norole", "support": "support", "pm": "pm", "admin": "admin"}
        client.force_login(User.objects.get(username=username[persona]))
    return client


@pytest.fixture
def personas(admin_user: User, pm_user: User, support_user: User, no_role_user: User) -> None:
    """Every persona exists; client_for signs one in."""


def send(client: Client, endpoint: Endpoint, world: World) -> HttpResponse:
    request = client.post if endpoint.method == "post" else client.get
    return request(endpoint.url(world), endpoint.data(world))


def outcome(endpoint: Endpoint, persona: str) -> str:
    """Return what a persona should meet at an endpoint: allowed, login, no_role or denied."""
    if endpoint.needs == PUBLIC:
        return "allowed"
    if persona == "anonymous":
        return "login"
    if persona == "norole":
        return "no_role"
    return "allowed" if persona in MAY[endpoint.needs] else "denied"


def test_the_table_names_every_url_of_the_product() -> None:
    assert named_urls() == {endpoint.name for endpoint in ENDPOINTS}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", SESSION_ENDPOINTS, ids=str)
def test_each_persona_reaches_exactly_what_its_role_allows(
    endpoint: Endpoint, persona: str, world: World, personas: None
) -> None:
    before = snapshot()
    response = send(client_for(persona), endpoint, world)
    expected = outcome(endpoint, persona)
    body = response.content.decode(errors="replace")
    if expected == "login":
        assert response.status_code == 302
        assert response.url.startswith(f"{reverse('login')}?next=")
    elif expected == "no_role":
        assert response.status_code == 403
        assert NO_ROLE_MESSAGE in body
    elif expected == "denied":
        assert response.status_code == 403
        assert NO_ROLE_MESSAGE not in body
    else:
        assert response.status_code in (200, 302), body[:500]
        if endpoint.method == "get" and endpoint.needs != PUBLIC:
            assert response.status_code == 200, response.get("Location")
        if endpoint.needs != PUBLIC:
            assert not response.get("Location", "").startswith(reverse("login"))
    if expected != "allowed":
        assert snapshot() == before
    elif endpoint.changes and endpoint.needs != PUBLIC:
        assert snapshot() != before, f"{persona}'s {endpoint} changed nothing"


@pytest.mark.parametrize("persona", ["anonymous", "admin"])
def test_the_webhook_refuses_everyone_without_its_token(
    persona: str, world: World, personas: None
) -> None:
    url = reverse("ingestion:webhook", args=[world.source.pk])
    response = client_for(persona).post(url, {"items": []}, content_type="application/json")
    assert response.status_code == 401
    assert FeedbackItem.objects.count() == 2


def test_the_webhook_takes_items_with_its_token(world: World) -> None:
    url = reverse("ingestion:webhook", args=[world.source.pk])
    response = Client().post(
        url,
        {"items": [{"text": "The new budget view is great."}]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.webhook_token}"},
    )
    assert response.status_code == 200, response.content
    assert FeedbackItem.objects.filter(text="The new budget view is great.").exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_staff_reach_the_admin_site(persona: str, personas: None) -> None:
    response = client_for(persona).get(reverse("admin:index"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_a_staff_admin_reaches_every_model_in_the_admin_site(admin_user: User) -> None:
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(admin_user)
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


def test_a_staff_product_manager_cannot_manage_users_or_sources(pm_user: User) -> None:
    pm_user.is_staff = True
    pm_user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(pm_user)
    for name in ["admin:auth_user_changelist", "admin:auth_group_changelist"]:
        assert client.get(reverse(name)).status_code == 403, name
    assert client.get(reverse("admin:ingestion_datasource_add")).status_code == 403
