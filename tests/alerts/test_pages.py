"""The alerts page and the navigation's count of the week's alerts."""

from datetime import date

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from alerts.models import Alert, AlertKind
from tests.factories import add_items, make_theme, signed_in


@pytest.mark.django_db
def test_people_see_each_alert_with_the_items_behind_it_and_a_count_in_the_navigation(
    pm_user: User, support_user: User
) -> None:
    items = add_items("the app crashes on launch", "crash after the update")
    theme = make_theme("Crashes", items)
    Alert.objects.create(
        kind=AlertKind.THEME_SPIKE,
        week=date(2026, 11, 16),
        theme=theme,
        key="theme_spike 2026-11-16 theme",
        summary="“Crashes”: 80 items, 80% of the week's feedback against a usual 50%.",
        p_value=1e-9,
        item_ids=[items[1].pk],
    )
    for person in (pm_user, support_user):
        page = signed_in(person).get(reverse("alerts:list")).content.decode()
        assert "80 items, 80% of the week" in page and "week of 16 Nov 2026" in page
        assert "crash after the update" in page and "the app crashes on launch" not in page
        assert '<span class="count" title="raised in the last 7 days">1</span>' in page
    other = signed_in(pm_user).get(reverse("alerts:list"), {"kind": AlertKind.NEW_THEME})
    assert "No alerts of this kind yet" in other.content.decode()


@pytest.mark.django_db
def test_people_without_a_role_see_no_alerts(client: Client) -> None:
    client.force_login(User.objects.create_user("nobody"))
    assert client.get(reverse("alerts:list")).status_code == 403
