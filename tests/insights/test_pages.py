import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from ingestion.models import DataSource, FeedbackItem

pytestmark = pytest.mark.django_db

PAGES = ["insights:overview", "insights:item_list", "ingestion:upload"]


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("admin", password="x"))
    return client


def add_item(source: DataSource, text: str, kind: str, day: int) -> FeedbackItem:
    return FeedbackItem.objects.create(
        source=source,
        kind=kind,
        text=text,
        content_hash=f"{text}-{day}",
        created_at=datetime(2026, 11, day, 12, tzinfo=UTC),
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_page_needs_a_login(client: Client, page: str) -> None:
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_overview_counts_feedback_by_kind_week_and_source(admin_client: Client) -> None:
    store = DataSource.objects.create(name="App Store")
    desk = DataSource.objects.create(name="Help desk", item_kind="ticket")
    add_item(store, "Love the budgets", "review", 2)
    add_item(store, "Sync fails", "review", 10)
    add_item(desk, "Cannot log in", "ticket", 11)
    page = admin_client.get(reverse("insights:overview"))
    text = page.content.decode()
    assert page.context["total"] == 3
    assert page.context["kinds"] == [
        {"label": "Review", "count": 2},
        {"label": "Support ticket", "count": 1},
    ]
    assert [week["count"] for week in page.context["weeks"]] == [1, 2]
    assert "Cannot log in" in text
    counts = {source.name: source.item_count for source in page.context["sources"]}
    assert counts == {"App Store": 2, "Help desk": 1}


def test_the_item_list_filters_by_source_and_kind(admin_client: Client) -> None:
    store = DataSource.objects.create(name="App Store")
    desk = DataSource.objects.create(name="Help desk")
    add_item(store, "Love the budgets", "review", 2)
    add_item(desk, "Cannot log in", "ticket", 3)
    add_item(desk, "Reminders are late", "review", 4)
    url = reverse("insights:item_list")
    by_source = admin_client.get(url, {"source": desk.pk}).context["page"]
    assert [item.text for item in by_source] == ["Reminders are late", "Cannot log in"]
    by_both = admin_client.get(url, {"source": desk.pk, "kind": "ticket"}).context["page"]
    assert [item.text for item in by_both] == ["Cannot log in"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_load_nothing_from_another_host(admin_client: Client, page: str) -> None:
    response = admin_client.get(reverse(page))
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "script-src 'self';" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_the_login_page_logs_people_in(client: Client) -> None:
    User.objects.create_user("pm", password="a-long-password-1")
    response = client.post(reverse("login"), {"username": "pm", "password": "a-long-password-1"})
    assert response.status_code == 302
    assert response.url == reverse("insights:overview")
    assert client.get(reverse("insights:overview")).status_code == 200
