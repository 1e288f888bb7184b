"""Which pages make bench times: every dashboard page, the theme and item pages included."""

import pytest
from django.urls import reverse

from devtools.benchmark.pages import dashboard_paths
from ingestion.models import DataSource, FeedbackItem
from insights.models import Theme

pytestmark = pytest.mark.django_db


def test_it_times_every_dashboard_page_with_the_first_theme_and_item() -> None:
    source = DataSource.objects.create(name="App Store")
    items = [
        FeedbackItem.objects.create(source=source, kind="review", text=t, content_hash=t)
        for t in ("first", "second")
    ]
    themes = [Theme.objects.create(name=n, embedding_model="m") for n in ("Sync", "Login")]
    paths = dashboard_paths()
    assert paths[:6] == [
        "/",
        "/?sentiment=negative",
        "/themes/",
        "/feedback/",
        "/search/?q=the+app+crashes+when+I+pay",
        "/copy/",
    ]
    assert reverse("insights:theme_detail", args=[themes[0].pk]) in paths
    assert reverse("insights:item_detail", args=[items[0].pk]) in paths
    assert reverse("insights:item_detail", args=[items[1].pk]) not in paths


def test_without_themes_or_items_it_times_the_pages_that_need_none() -> None:
    paths = dashboard_paths()
    assert not any(path.startswith("/themes/") and path != "/themes/" for path in paths)
    assert not any(path.startswith("/feedback/") and path != "/feedback/" for path in paths)
    assert "/search/?q=the+app+crashes+when+I+pay" in paths
