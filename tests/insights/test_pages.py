import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from accounts import roles
from ingestion.models import DataSource, FeedbackItem
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.models import AnalysisRun, ItemSentiment, ModelVersion
from tests.factories import make_theme

pytestmark = pytest.mark.django_db

PAGES = [
    "insights:overview",
    "insights:item_list",
    "insights:theme_list",
    "insights:analysis",
    "insights:evaluation",
    "insights:evaluation_label",
    "ingestion:upload",
]


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("admin", password="x"))
    return client


def add_item(source: DataSource, text: str, kind: str, day: int) -> FeedbackItem:
    item = FeedbackItem.objects.create(
        source=source,
        kind=kind,
        text=text,
        content_hash=f"{text}-{day}",
        created_at=datetime(2026, 11, day, 12, tzinfo=UTC),
    )
    rebuild_daily_counts()  # as the product does with what it writes
    return item


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
    assert page.context["totals"].total == 3
    assert [(kind["label"], kind["count"]) for kind in page.context["kinds"]] == [
        ("Review", 2),
        ("Support ticket", 1),
    ]
    assert [week["total"] for week in page.context["view"].weeks] == [1, 2]
    assert "Cannot log in" in text
    counts = {row["name"]: row["total"] for row in page.context["sources"]}
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


@pytest.mark.parametrize("page", PAGES)
def test_signed_in_pages_are_kept_by_no_cache(admin_client: Client, page: str) -> None:
    cache_control = admin_client.get(reverse(page))["Cache-Control"]
    assert {part.strip() for part in cache_control.split(",")} >= {"private", "no-store"}


def test_the_login_page_logs_people_in(client: Client) -> None:
    user = User.objects.create_user("pm", password="a-long-password-1")
    user.groups.add(Group.objects.get(name=roles.PRODUCT_MANAGER))
    response = client.post(reverse("login"), {"username": "pm", "password": "a-long-password-1"})
    assert response.status_code == 302
    assert response.url == reverse("insights:overview")
    assert client.get(reverse("insights:overview")).status_code == 200


def test_the_theme_list_shows_the_sentiment_split_and_the_theme_page_its_summary(
    admin_client: Client,
) -> None:
    store = DataSource.objects.create(name="App Store")
    items = [add_item(store, text, "review", day) for day, text in enumerate(TEXTS, 1)]
    theme = make_theme(
        "Receipt scanning crashes",
        items,
        ["negative", "negative", "positive"],
        representative_item_ids=[item.pk for item in items],
        pain_summary=[{"text": "Scanning a receipt crashes the app.", "item_ids": [items[0].pk]}],
        summary_kind="generated",
    )
    ItemSentiment.objects.filter(item=items[2]).update(corrected="neutral")
    make_theme("Old theme", [], [], status="retired")

    page = admin_client.get(reverse("insights:theme_list"))

    (shown,) = page.context["rows"]
    assert shown["theme"].pk == theme.pk
    assert [part["count"] for part in shown["split"]] == [2, 1, 0, 0]
    html = admin_client.get(reverse("insights:theme_detail", args=[theme.pk])).content.decode()
    assert "Scanning a receipt crashes the app." in html
    assert f"[{items[0].pk}]" in html
    assert TEXTS[1] in html


def test_an_extractive_summary_says_so(admin_client: Client) -> None:
    store = DataSource.objects.create(name="App Store")
    item = add_item(store, TEXTS[0], "review", 1)
    theme = make_theme(
        "Receipts",
        [item],
        ["negative"],
        representative_item_ids=[item.pk],
        pain_summary=[{"text": TEXTS[0], "item_ids": [item.pk]}],
        summary_kind="extractive",
        summary_note="The generated summary was not used: sentence 1 cites no quote.",
    )
    url = reverse("insights:theme_detail", args=[theme.pk])
    assert "sentence 1 cites no quote" in admin_client.get(url).content.decode()


def test_only_people_allowed_to_analyse_can_start_a_run(client: Client) -> None:
    viewer = User.objects.create_user("viewer")
    viewer.groups.add(Group.objects.get(name=roles.SUPPORT_LEAD))
    client.force_login(viewer)
    assert client.get(reverse("insights:analysis")).status_code == 200
    assert client.post(reverse("insights:analysis"), {}).status_code == 403
    assert not AnalysisRun.objects.exists()


def test_a_run_the_task_queue_cannot_take_says_so_on_its_page(
    admin_client: Client, broker_down: str, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = admin_client.post(reverse("insights:analysis"), {"recluster": "on"})
    assert response.status_code == 302
    assert AnalysisRun.objects.get().status == "failed"
    page = admin_client.get(response.url).content.decode()
    assert "Could not start: the task queue is unreachable." in page


def test_the_run_page_reports_its_progress(admin_client: Client) -> None:
    run = AnalysisRun.objects.create(
        status="running",
        stage="sentiment",
        done=40,
        total=120,
        stats={"embedding": {"items": 120, "seconds": 1.5}},
    )
    status = admin_client.get(reverse("insights:analysis_run_status", args=[run.pk])).json()
    assert status == {
        "status": "running",
        "status_label": "Running",
        "finished": False,
        "stage": "sentiment",
        "done": 40,
        "total": 120,
        "stats": {"embedding": {"items": 120, "seconds": 1.5}},
        "error": "",
        "percent": 33,
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "heartbeat_at": None,
        "stage_rows": [{"stage": "embedding", "items": 120, "seconds": 1.5, "note": ""}],
    }
    page = admin_client.get(reverse("insights:analysis_run", args=[run.pk])).content.decode()
    assert 'value="40"' in page and "sentiment" in page


def test_the_run_page_says_what_each_stage_did_beside_its_counts(admin_client: Client) -> None:
    note = (
        "462 items fit no theme; clustered among themselves, 431 formed 3 new themes, "
        "and 31 still fit none."
    )
    themes = {"items": 443, "seconds": 2.5, "note": note}
    run = AnalysisRun.objects.create(status="done", stats={"themes": themes})
    status = admin_client.get(reverse("insights:analysis_run_status", args=[run.pk])).json()
    assert status["stage_rows"] == [{"stage": "themes", **themes}]
    page = admin_client.get(reverse("insights:analysis_run", args=[run.pk])).content.decode()
    assert f"<td>{note}</td>" in page


TEXTS = [
    "The app crashes when I scan a receipt.",
    "Receipt scanning closes the app every time since 5.2.",
    "Scanning receipts works again, thanks!",
]


def test_the_item_list_shows_the_rating_beside_the_predicted_or_corrected_sentiment(
    admin_client: Client,
) -> None:
    store = DataSource.objects.create(name="App Store")
    rated, corrected, _not_analysed = (
        add_item(store, text, "review", 5 + n) for n, text in enumerate(TEXTS)
    )
    FeedbackItem.objects.filter(pk=rated.pk).update(rating=5)
    DataSource.objects.widen_rating_range(store.pk, [5.0])  # as storing rated items does
    version = ModelVersion.objects.create(name="model.gguf", sha256="0" * 64)
    for item, label in ((rated, "negative"), (corrected, "negative")):
        ItemSentiment.objects.create(
            item=item, llm_model=version, prompt_version="v", predicted=label, confidence=0.9
        )
    ItemSentiment.objects.filter(item=corrected).update(corrected="positive")

    html = admin_client.get(reverse("insights:item_list")).content.decode()

    assert re.search(r"5★ · <span class=\"negative\" title=\"predicted, confidence 0.90\">", html)
    assert '<span class="positive" title="corrected by a person">positive</span>' in html
    # The item not analysed yet shows none.
    assert len(re.findall(r'<span class="(negative|neutral|positive)"', html)) == 2
