"""The source pages of the admin area: who reaches them, creating and editing each kind,
secrets never shown back, enable/disable, sync now, and rotating a webhook token."""

import json

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from ingestion.connectors import CONNECTORS, POLLING_FORMS, connector_for
from ingestion.forms import SOURCE_FORMS, source_form
from ingestion.models import (
    DEFAULT_PROJECT_NAME,
    PUSHED_KINDS,
    DataSource,
    FeedbackItem,
    Project,
    SourceKind,
)
from ingestion.secrets import decrypt_secret

pytestmark = pytest.mark.django_db

SECRET = "token-that-must-never-show-9f3e"
REST_FORM = {
    "name": "Reviews API",
    "item_kind": "review",
    "enabled": "on",
    "sync_interval_minutes": "30",
    "url": "https://api.example.com/v1/reviews",
    "auth_header_name": "Authorization",
    "auth_header_value": SECRET,
    "items_path": "data.reviews",
    "text_field": "body",
    "id_field": "id",
    "date_field": "created",
    "rating_field": "stars",
    "title_field": "",
    "author_field": "user.name",
    "date_format": "",
    "timezone": "UTC",
    "paging": "cursor",
    "cursor_path": "paging.next",
    "cursor_param": "after",
    "since_param": "",
}
IMAP_FORM = {
    "name": "Support mailbox",
    "item_kind": "ticket",
    "enabled": "on",
    "sync_interval_minutes": "5",
    "host": "imap.example.com",
    "port": "993",
    "security": "ssl",
    "username": "support@example.com",
    "password": SECRET,
    "folder": "INBOX",
}
FEED_FORM = {
    "name": "Forum",
    "item_kind": "social_post",
    "enabled": "on",
    "sync_interval_minutes": "15",
    "url": "https://forum.example.com/latest.rss",
}


@pytest.fixture(autouse=True)
def secrets_key(settings: object) -> None:
    settings.FEEDLENS_SECRETS_KEY = "admin-page-tests-key"  # type: ignore[attr-defined]


@pytest.fixture
def admin(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def create(client: Client, kind: str, form: dict[str, str]) -> DataSource:
    response = client.post(f"{reverse('ingestion:source_create')}?kind={kind}", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    return DataSource.objects.get(name=form["name"])


@pytest.mark.parametrize("persona", ["pm_user", "support_user"])
def test_product_managers_and_support_leads_cannot_reach_the_source_pages(
    persona: str, request: pytest.FixtureRequest
) -> None:
    source = DataSource.objects.create(name="Hook", kind=SourceKind.WEBHOOK)
    source.rotate_webhook_token()
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    for name in ["source_list", "source_create"]:
        assert client.get(reverse(f"ingestion:{name}")).status_code == 403
    assert client.get(reverse("ingestion:source_edit", args=[source.pk])).status_code == 403
    for name in ["source_edit", "source_toggle", "source_sync", "source_rotate_token"]:
        response = client.post(reverse(f"ingestion:{name}", args=[source.pk]), {"name": "X"})
        assert response.status_code == 403
    source.refresh_from_db()
    assert (source.name, source.enabled) == ("Hook", True)


def test_a_visitor_is_sent_to_the_login_page() -> None:
    response = Client().get(reverse("ingestion:source_list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_list_shows_each_sources_state(admin: Client) -> None:
    failing = DataSource.objects.create(
        name="Broken API",
        kind=SourceKind.REST,
        last_error="https://api.example.com answered 503 Service Unavailable",
        failure_count=2,
    )
    FeedbackItem.objects.create(source=failing, kind="review", text="hi", content_hash="h1")
    page = admin.get(reverse("ingestion:source_list"))
    assert page.status_code == 200
    row = page.content.decode().split(f'id="source-{failing.pk}"')[1].split("</tr>")[0]
    assert "JSON/REST endpoint" in row and "503 Service Unavailable" in row
    assert "2 failures in a row" in row
    assert '<td class="num">1</td>' in row
    assert "Sync now" in row


def test_the_create_page_offers_each_kind(admin: Client) -> None:
    page = admin.get(reverse("ingestion:source_create")).content.decode()
    for kind in SourceKind.values:
        assert f"?kind={kind}" in page


def test_an_admin_creates_a_rest_source_whose_secret_is_stored_encrypted(admin: Client) -> None:
    source = create(admin, SourceKind.REST, REST_FORM)
    assert (source.kind, source.sync_interval_minutes, source.next_sync_at) == ("rest", 30, None)
    assert SECRET not in json.dumps(source.config)
    assert decrypt_secret(source.config["auth_header_value"]) == SECRET
    assert source.config["mapping"]["author"] == "user.name"
    assert (source.config["paging"], source.config["cursor_param"]) == ("cursor", "after")


def test_the_edit_page_never_shows_a_secret_and_keeps_it_when_left_blank(admin: Client) -> None:
    source = create(admin, SourceKind.IMAP, IMAP_FORM)
    url = reverse("ingestion:source_edit", args=[source.pk])
    page = admin.get(url).content.decode()
    assert SECRET not in page
    assert "Stored: ••••9f3e. Leave blank to keep it." in page
    assert 'value="imap.example.com"' in page

    stored = source.config["password"]
    response = admin.post(url, {**IMAP_FORM, "password": "", "folder": "Support"})
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.config["folder"] == "Support"
    assert source.config["password"] == stored


def test_a_new_secret_replaces_the_stored_one(admin: Client) -> None:
    source = create(admin, SourceKind.REST, REST_FORM)
    url = reverse("ingestion:source_edit", args=[source.pk])
    admin.post(url, {**REST_FORM, "auth_header_value": "a-brand-new-token-1234"})
    source.refresh_from_db()
    assert decrypt_secret(source.config["auth_header_value"]) == "a-brand-new-token-1234"


def test_the_password_is_asked_for_again_when_the_mail_host_changes(admin: Client) -> None:
    source = create(admin, SourceKind.IMAP, IMAP_FORM)
    url = reverse("ingestion:source_edit", args=[source.pk])
    moved = {**IMAP_FORM, "host": "imap.elsewhere.example", "password": ""}
    response = admin.post(url, moved)
    assert response.status_code == 200
    assert "Enter it again: the source now connects to another host" in response.content.decode()
    source.refresh_from_db()
    assert source.config["host"] == "imap.example.com"
    response = admin.post(url, {**moved, "password": "the-new-hosts-password"})
    assert response.status_code == 302
    source.refresh_from_db()
    assert decrypt_secret(source.config["password"]) == "the-new-hosts-password"


def test_an_imap_source_needs_a_password(admin: Client) -> None:
    url = f"{reverse('ingestion:source_create')}?kind=imap"
    response = admin.post(url, {**IMAP_FORM, "password": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["password"] == ["This field is required."]
    assert not DataSource.objects.exists()


def test_an_incomplete_configuration_is_explained_on_the_form(admin: Client) -> None:
    url = f"{reverse('ingestion:source_create')}?kind=rest"
    response = admin.post(url, {**REST_FORM, "cursor_path": ""})
    assert response.status_code == 200
    assert "cursor paging needs the next-cursor path" in response.content.decode()
    assert not DataSource.objects.exists()


def test_an_admin_creates_a_feed_and_a_webhook_source(admin: Client) -> None:
    feed = create(admin, SourceKind.RSS, FEED_FORM)
    assert feed.config == {"url": "https://forum.example.com/latest.rss"}
    hook = create(admin, SourceKind.WEBHOOK, {"name": "Zendesk", "item_kind": "ticket"})
    assert (hook.kind, hook.enabled, hook.config) == ("webhook", False, {})


def test_a_source_belongs_to_a_project_chosen_or_named_on_its_form(admin: Client) -> None:
    # Without a choice, the one project there is (made when first needed).
    store = create(admin, SourceKind.WEBHOOK, {"name": "Store reviews", "item_kind": "review"})
    assert store.project.name == DEFAULT_PROJECT_NAME
    # A new product, by name; a second source joins it by choosing it.
    hook = {"name": "Airline tickets", "item_kind": "ticket", "new_project": "Airline"}
    airline = create(admin, SourceKind.WEBHOOK, hook).project
    assert airline.name == "Airline" and Project.objects.count() == 2
    chosen = {"name": "Airline posts", "item_kind": "social_post", "project": str(airline.pk)}
    assert create(admin, SourceKind.WEBHOOK, chosen).project == airline
    page = admin.get(reverse("ingestion:source_list")).content.decode()
    row = page.split(f'id="source-{store.pk}"')[1].split("</tr>")[0]
    assert f'<td class="project">{DEFAULT_PROJECT_NAME}</td>' in row


def test_pointing_a_source_elsewhere_starts_its_cursor_again(admin: Client) -> None:
    source = create(admin, SourceKind.RSS, FEED_FORM)
    source.sync_cursor = {"newest": "2026-11-20T00:00:00+00:00"}
    source.save(update_fields=["sync_cursor"])
    url = reverse("ingestion:source_edit", args=[source.pk])
    admin.post(url, {**FEED_FORM, "name": "Forum (renamed)"})
    source.refresh_from_db()
    assert source.sync_cursor == {"newest": "2026-11-20T00:00:00+00:00"}
    admin.post(url, {**FEED_FORM, "url": "https://forum.example.com/other.rss"})
    source.refresh_from_db()
    assert source.sync_cursor == {}


def test_an_admin_disables_and_enables_a_source(admin: Client) -> None:
    source = create(admin, SourceKind.RSS, FEED_FORM)
    url = reverse("ingestion:source_toggle", args=[source.pk])
    assert admin.get(url).status_code == 405
    admin.post(url)
    source.refresh_from_db()
    assert source.enabled is False
    admin.post(url)
    source.refresh_from_db()
    assert source.enabled is True


def test_sync_now_hands_a_sync_to_the_task_queue(admin: Client, unread_queue: str) -> None:
    source = create(admin, SourceKind.RSS, FEED_FORM)
    response = admin.post(reverse("ingestion:source_sync", args=[source.pk]), follow=True)
    assert "A sync of &#x27;Forum&#x27; is queued." in response.content.decode()
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    [message] = broker.lrange(unread_queue, 0, -1)
    headers = json.loads(message)["headers"]
    assert (headers["task"], headers["argsrepr"]) == ("ingestion.sync_source", f"({source.pk},)")


def test_sync_now_says_when_the_task_queue_is_unreachable(admin: Client, broker_down: str) -> None:
    source = create(admin, SourceKind.RSS, FEED_FORM)
    response = admin.post(reverse("ingestion:source_sync", args=[source.pk]), follow=True)
    assert response.status_code == 200
    assert (
        "No sync of &#x27;Forum&#x27; was queued. Could not start: the task queue is unreachable."
        in response.content.decode()
    )


def test_a_rotated_token_is_shown_once_and_the_old_one_stops_working(admin: Client) -> None:
    source = DataSource.objects.create(name="Zendesk", kind=SourceKind.WEBHOOK)
    old_token = source.rotate_webhook_token()
    response = admin.post(reverse("ingestion:source_rotate_token", args=[source.pk]))
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    new_token = response.context["token"]
    assert f"Authorization: Bearer {new_token}" in response.content.decode()
    assert (
        new_token
        not in admin.get(reverse("ingestion:source_edit", args=[source.pk])).content.decode()
    )

    webhook = reverse("ingestion:webhook", args=[source.pk])
    item = {"text": "Tickets sync again"}
    for token, status in [(old_token, 401), (new_token, 200)]:
        answer = Client().post(
            webhook,
            item,
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == status


def test_an_edit_keeps_the_cursor_a_running_sync_moved_meanwhile(admin: Client) -> None:
    source = create(admin, SourceKind.RSS, FEED_FORM)
    form = source_form(SourceKind.RSS, {**FEED_FORM, "name": "Forum 2"}, instance=source)
    moved = {"newest": "2026-11-30T00:00:00+00:00"}
    DataSource.objects.filter(pk=source.pk).update(sync_cursor=moved, failure_count=2)
    assert form.is_valid(), form.errors
    form.save()
    source.refresh_from_db()
    assert (source.name, source.sync_cursor, source.failure_count) == ("Forum 2", moved, 2)


def test_every_kind_that_is_not_pushed_has_one_registered_connector_and_form() -> None:
    polled = set(SourceKind.values) - set(PUSHED_KINDS)
    assert set(CONNECTORS) == polled
    assert set(SOURCE_FORMS) == set(SourceKind.values)
    for form in POLLING_FORMS:
        assert SOURCE_FORMS[form.connector.kind] is form
        assert connector_for(form.connector.kind) is form.connector
    assert [DataSource(kind=kind).is_polling for kind in PUSHED_KINDS] == [False, False]
    assert all(DataSource(kind=kind).is_polling for kind in polled)
