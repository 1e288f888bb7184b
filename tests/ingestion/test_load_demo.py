from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import override_settings

from ingestion.models import DataSource, FeedbackItem, SyncStatus

pytestmark = pytest.mark.django_db


def load_demo(*args: str) -> str:
    """Run load_demo as `make demo` does, with DEBUG on."""
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("load_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_with_debug_off_the_published_logins_need_a_flag() -> None:
    with pytest.raises(CommandError, match="runs only with DEBUG=true"):
        call_command("load_demo", "--weeks=1", "--per-week=10", stdout=StringIO())
    assert not User.objects.exists() and not FeedbackItem.objects.exists()
    call_command("load_demo", "--weeks=1", "--per-week=10", "--published-logins", stdout=StringIO())
    assert authenticate(HttpRequest(), username="demo", password="feedlens-demo") is not None


def test_the_demo_loads_three_sources_of_dated_feedback_once() -> None:
    first = load_demo("--weeks=3", "--per-week=60")
    count = FeedbackItem.objects.count()
    assert 150 <= count <= 200
    assert f"Demo feedback: {count:,} new items, 0 already there." in first
    assert f"Demo feedback: 0 new items, {count:,} already there." in load_demo(
        "--weeks=3", "--per-week=60"
    )
    sources = DataSource.objects.order_by("item_kind")
    assert [source.item_kind for source in sources] == ["review", "social_post", "ticket"]
    assert {source.last_sync_status for source in sources} == {SyncStatus.OK}
    for source in sources:
        assert set(source.items.values_list("kind", flat=True)) == {source.item_kind}
    assert not FeedbackItem.objects.filter(created_at__isnull=True).exists()
    assert not FeedbackItem.objects.exclude(kind="review").filter(rating__isnull=False).exists()
    assert "demo_theme" in FeedbackItem.objects.first().metadata


def test_the_demo_login_it_prints_works() -> None:
    output = load_demo("--weeks=1", "--per-week=10")
    username, password = output.split("Demo login: ")[1].strip().split(" / ")
    user = authenticate(HttpRequest(), username=username, password=password)
    assert user is not None and user.is_superuser


def test_the_demo_has_a_login_for_each_role() -> None:
    load_demo("--weeks=1", "--per-week=10")
    for username, role in (("pm", "Product manager"), ("support", "Support lead")):
        user = authenticate(HttpRequest(), username=username, password="feedlens-demo")
        assert user is not None and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert authenticate(HttpRequest(), username="support", password="feedlens-demo").has_perm(
        "insights.view_theme"
    )
