import re

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import people, roles
from tests.factories import signed_in

pytestmark = pytest.mark.django_db

PEOPLE_PAGES = [
    ("get", "accounts:people", False),
    ("post", "accounts:invite", False),
    ("post", "accounts:change_role", True),
    ("post", "accounts:deactivate", True),
    ("post", "accounts:reactivate", True),
    ("post", "accounts:reinvite", True),
]


def invite(client: Client, email: str, role: str = roles.PRODUCT_MANAGER, name: str = "") -> object:
    return client.post(reverse("accounts:invite"), {"email": email, "name": name, "role": role})


def role_names(user: User) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def test_an_invited_person_sets_a_password_through_the_emailed_link_and_logs_in(
    admin_user: User,
) -> None:
    page = invite(signed_in(admin_user), "Ana.Lopez@Example.com", name="Ana López")

    assert page.status_code == 200
    ana = User.objects.get(username="Ana.Lopez@example.com")
    assert (ana.email, ana.first_name, ana.is_active) == (
        "Ana.Lopez@example.com",
        "Ana López",
        True,
    )
    assert not ana.has_usable_password()
    assert role_names(ana) == [roles.PRODUCT_MANAGER]
    (message,) = mail.outbox
    assert message.to == ["Ana.Lopez@example.com"]
    assert message.subject == people.INVITATION_SUBJECT
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    assert f"http://testserver{link}" in page.content.decode()  # shown on screen too

    visitor = Client()
    form_page = visitor.get(link, follow=True)
    assert form_page.context["validlink"] is True
    set_url = form_page.redirect_chain[-1][0]
    new_password = {"new_password1": "quiet-harbour-42", "new_password2": "quiet-harbour-42"}
    done = visitor.post(set_url, new_password)
    assert done.status_code == 302 and done.url == reverse("insights:overview")
    assert visitor.get(reverse("insights:theme_list")).status_code == 200  # signed in already

    fresh = Client()
    assert fresh.login(
        request=HttpRequest(), username="Ana.Lopez@example.com", password="quiet-harbour-42"
    )
    assert Client().get(link).context["validlink"] is False  # the link works once


def test_the_invitation_link_stops_working_when_the_person_is_deactivated(
    admin_user: User,
) -> None:
    invite(signed_in(admin_user), "bo@example.com")
    link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
    bo = User.objects.get(email="bo@example.com")
    people.deactivate(bo, by=admin_user)

    page = Client().get(link, follow=True)

    assert page.context["validlink"] is False
    assert "This link no longer works" in page.content.decode()


def test_reactivating_a_person_does_not_revive_their_old_invitation_link(
    admin_user: User,
) -> None:
    invite(signed_in(admin_user), "di@example.com")
    link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
    di = User.objects.get(email="di@example.com")
    people.deactivate(di, by=admin_user)
    people.reactivate(di)

    assert Client().get(link, follow=True).context["validlink"] is False


def test_an_admin_who_is_not_a_superuser_cannot_deactivate_a_superuser(
    admin_user: User,
) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "root-password-1")
    response = signed_in(admin_user).post(
        reverse("accounts:deactivate", args=[root.pk]), follow=True
    )
    assert "Only a superuser can deactivate root, a superuser." in response.content.decode()
    root.refresh_from_db()
    assert root.is_active


def test_the_admin_role_opens_djangos_admin_and_other_roles_do_not(
    admin_user: User, pm_user: User
) -> None:
    people.set_role(pm_user, roles.ADMIN)
    assert signed_in(pm_user).get("/admin/").status_code == 200
    people.set_role(pm_user, roles.SUPPORT_LEAD)
    response = signed_in(pm_user).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response.url
    invite(signed_in(admin_user), "ed@example.com", role=roles.ADMIN)
    assert User.objects.get(email="ed@example.com").is_staff


def test_invitations_to_one_address_are_limited_per_hour(
    admin_user: User, settings: object
) -> None:
    client = signed_in(admin_user)
    invite(client, "fay@example.com")
    fay = User.objects.get(email="fay@example.com")
    limit = settings.FEEDLENS_INVITATIONS_PER_ADDRESS  # type: ignore[attr-defined]
    for _ in range(limit):
        last = client.post(reverse("accounts:reinvite", args=[fay.pk]), follow=True)
    assert len(mail.outbox) == limit
    assert f"fay@example.com was sent {limit} invitations in the last hour" in (
        last.content.decode()
    )


def test_a_new_invitation_link_can_be_sent_until_the_password_is_set(admin_user: User) -> None:
    client = signed_in(admin_user)
    invite(client, "cy@example.com")
    cy = User.objects.get(email="cy@example.com")

    again = client.post(reverse("accounts:reinvite", args=[cy.pk]))

    assert again.status_code == 200
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["cy@example.com"]
    cy.set_password("already-chosen-1")
    cy.save()
    refused = client.post(reverse("accounts:reinvite", args=[cy.pk]), follow=True)
    assert "has already set a password" in refused.content.decode()
    assert len(mail.outbox) == 2


def test_the_link_is_shown_when_the_email_cannot_be_sent(
    admin_user: User, settings: object
) -> None:
    # A real SMTP backend pointed at a port where nothing listens: the connection is refused.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # type: ignore[attr-defined]
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # type: ignore[attr-defined]

    page = invite(signed_in(admin_user), "di@example.com")

    html = page.content.decode()
    assert "could not be sent" in html
    assert re.search(r'value="http://testserver/accounts/reset/[^"]+/"', html)
    assert User.objects.filter(email="di@example.com").exists()


def test_an_email_that_already_has_an_account_is_rejected(admin_user: User) -> None:
    client = signed_in(admin_user)
    invite(client, "eve@example.com")

    again = invite(client, "EVE@example.com", role=roles.SUPPORT_LEAD)

    assert again.status_code == 400
    assert again.content.decode().count("EVE@example.com already has an account.") == 1
    assert User.objects.filter(email__iexact="eve@example.com").count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("role", ["Owner", ""])
def test_an_invitation_with_an_invalid_role_is_rejected(admin_user: User, role: str) -> None:
    page = invite(signed_in(admin_user), "fay@example.com", role=role)

    assert page.status_code == 400
    assert page.context["invite_form"].errors["role"]
    assert not User.objects.filter(email="fay@example.com").exists()
    assert not mail.outbox


def test_the_service_rejects_a_role_that_does_not_exist(pm_user: User) -> None:
    with pytest.raises(people.PeopleError, match="“Owner” is not a role"):
        people.set_role(pm_user, "Owner")
    with pytest.raises(people.PeopleError, match="is not a role"):
        people.invite_user("gus@example.com", "", "Owner", "http://testserver/")
    assert role_names(pm_user) == [roles.PRODUCT_MANAGER]
    assert not User.objects.filter(email="gus@example.com").exists()


def test_a_role_change_puts_the_person_in_exactly_that_role_and_they_reach_its_pages(
    admin_user: User, no_role_user: User
) -> None:
    extra = Group.objects.create(name="Beta testers")
    no_role_user.groups.add(extra, Group.objects.get(name=roles.SUPPORT_LEAD))
    admin = signed_in(admin_user)
    person = signed_in(no_role_user)
    url = reverse("accounts:change_role", args=[no_role_user.pk])

    admin.post(url, {"role": roles.PRODUCT_MANAGER})

    assert role_names(no_role_user) == ["Beta testers", roles.PRODUCT_MANAGER]
    assert person.get(reverse("insights:theme_list")).status_code == 200

    admin.post(url, {"role": ""})

    assert role_names(no_role_user) == ["Beta testers"]
    page = person.get(reverse("insights:theme_list"))
    assert page.status_code == 403
    assert "You have no role in Feedlens yet" in page.content.decode()


def test_an_invalid_role_change_is_rejected(admin_user: User, pm_user: User) -> None:
    url = reverse("accounts:change_role", args=[pm_user.pk])

    page = signed_in(admin_user).post(url, {"role": "Owner"}, follow=True)

    assert "Select a valid choice" in page.content.decode()
    assert role_names(pm_user) == [roles.PRODUCT_MANAGER]


@pytest.mark.parametrize("persona", ["pm_user", "support_user"])
@pytest.mark.parametrize(("method", "page", "takes_id"), PEOPLE_PAGES)
def test_product_managers_and_support_leads_cannot_manage_people(
    request: pytest.FixtureRequest, persona: str, method: str, page: str, takes_id: bool
) -> None:
    user = request.getfixturevalue(persona)
    other = User.objects.create_user("other", email="other@example.com")
    url = reverse(page, args=[other.pk] if takes_id else [])
    data = {"email": "new@example.com", "role": roles.ADMIN}

    response = getattr(signed_in(user), method)(url, data)

    assert response.status_code == 403
    assert not User.objects.filter(email="new@example.com").exists()
    assert other.is_active and role_names(other) == []


@pytest.mark.parametrize("persona", ["pm_user", "support_user"])
def test_the_admin_area_is_for_admins_only(request: pytest.FixtureRequest, persona: str) -> None:
    user = request.getfixturevalue(persona)
    client = signed_in(user)
    assert client.get(reverse("accounts:admin_area")).status_code == 403
    assert "Admin area" not in client.get(reverse("insights:overview")).content.decode()


def test_the_admin_area_links_to_each_part_of_the_administration(admin_user: User) -> None:
    client = signed_in(admin_user)

    html = client.get(reverse("accounts:admin_area")).content.decode()

    links = ["ingestion:source_list", "accounts:people", "insights:report_schedules"]
    for link in map(reverse, links):
        assert f'href="{link}"' in html
    assert reverse("admin:index") not in html  # the Django admin is for staff only
    assert f'href="{reverse("accounts:admin_area")}"' in client.get("/").content.decode()
    admin_user.is_staff = True
    admin_user.save()
    assert (
        f'href="{reverse("admin:index")}"'
        in client.get(reverse("accounts:admin_area")).content.decode()
    )


def test_the_people_page_lists_each_person_with_role_state_and_dates(
    admin_user: User, pm_user: User, no_role_user: User
) -> None:
    people.deactivate(no_role_user, by=admin_user)

    page = signed_in(admin_user).get(reverse("accounts:people"))

    rows = {row["person"].username: row for row in page.context["rows"]}
    assert {name: row["roles"] for name, row in rows.items()} == {
        "admin": [roles.ADMIN],
        "pm": [roles.PRODUCT_MANAGER],
        "norole": [],
    }
    assert [row["person"].username for row in page.context["rows"]] == ["admin", "pm", "norole"]
    html = page.content.decode()
    assert f'id="person-{no_role_user.pk}" class="inactive"' in html
    assert "Never" in html and pm_user.date_joined.strftime("%Y-%m-%d") in html


def test_nobody_can_deactivate_themselves(admin_user: User) -> None:
    admin = User.objects.create_user("second-admin")
    admin.groups.add(Group.objects.get(name=roles.ADMIN))
    url = reverse("accounts:deactivate", args=[admin_user.pk])

    page = signed_in(admin_user).post(url, follow=True)

    assert "You cannot deactivate yourself." in page.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_the_last_active_admin_cannot_be_deactivated_or_lose_the_role(
    admin_user: User, pm_user: User
) -> None:
    # A PM given every auth permission (not the role) can reach the page but is no admin.
    pm_user.user_permissions.add(*Group.objects.get(name=roles.ADMIN).permissions.all())
    client = signed_in(pm_user)

    deactivated = client.post(reverse("accounts:deactivate", args=[admin_user.pk]), follow=True)
    demoted = client.post(
        reverse("accounts:change_role", args=[admin_user.pk]), {"role": roles.SUPPORT_LEAD}
    )

    assert "You cannot deactivate the last active admin." in deactivated.content.decode()
    assert demoted.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.is_active and role_names(admin_user) == [roles.ADMIN]
    with pytest.raises(people.PeopleError, match="take the admin role from the last active"):
        people.set_role(admin_user, None)


def test_an_admin_can_be_removed_while_another_active_admin_remains(admin_user: User) -> None:
    other = User.objects.create_user("other-admin")
    other.groups.add(Group.objects.get(name=roles.ADMIN))
    people.set_role(other, roles.SUPPORT_LEAD)
    other.groups.add(Group.objects.get(name=roles.ADMIN))

    people.deactivate(other, by=admin_user)

    other.refresh_from_db()
    assert not other.is_active
    # With the other admin inactive, admin_user is the last one again.
    with pytest.raises(people.PeopleError, match="last active admin"):
        people.set_role(admin_user, roles.PRODUCT_MANAGER)
    User.objects.create_superuser("root", password=None)
    assert people.set_role(admin_user, roles.PRODUCT_MANAGER) == admin_user  # root remains


def test_a_deactivated_person_is_signed_out_and_can_be_reactivated(
    admin_user: User, support_user: User
) -> None:
    person = signed_in(support_user)
    admin = signed_in(admin_user)

    admin.post(reverse("accounts:deactivate", args=[support_user.pk]))

    response = person.get(reverse("insights:theme_list"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not Client().login(
        request=HttpRequest(), username="support", password="support-password-1"
    )

    admin.post(reverse("accounts:reactivate", args=[support_user.pk]))

    assert Client().login(request=HttpRequest(), username="support", password="support-password-1")


def test_a_person_who_forgot_their_password_sets_a_new_one_through_an_emailed_link(
    pm_user: User,
) -> None:
    pm_user.email = "pm@example.com"
    pm_user.save()
    visitor = Client()

    sent = visitor.post(reverse("password_reset"), {"email": "pm@example.com"})

    assert sent.status_code == 302 and sent.url == reverse("password_reset_done")
    (message,) = mail.outbox
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    set_url = visitor.get(link, follow=True).redirect_chain[-1][0]
    visitor.post(set_url, {"new_password1": "lantern-field-7", "new_password2": "lantern-field-7"})
    assert Client().login(request=HttpRequest(), username="pm", password="lantern-field-7")
    assert not Client().login(request=HttpRequest(), username="pm", password="pm-password-1")


def test_an_invited_person_without_a_password_gets_no_reset_email(admin_user: User) -> None:
    invite(signed_in(admin_user), "hal@example.com")

    Client().post(reverse("password_reset"), {"email": "hal@example.com"})

    assert len(mail.outbox) == 1  # the invitation only: a new link comes from an admin


@pytest.mark.parametrize("page", ["accounts:admin_area", "accounts:people"])
def test_the_admin_pages_load_nothing_from_another_host(admin_user: User, page: str) -> None:
    response = signed_in(admin_user).get(reverse(page))

    assert response.status_code == 200
    assert "script-src 'self';" in response["Content-Security-Policy"]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response.content.decode())
    assert "<script" not in response.content.decode()


def test_the_people_page_makes_as_many_queries_for_thirty_people_as_for_three(
    admin_user: User,
) -> None:
    client = signed_in(admin_user)
    url = reverse("accounts:people")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = queries()
    for number in range(27):
        people.set_role(User.objects.create_user(f"person{number}"), roles.SUPPORT_LEAD)
    assert queries() == few


def test_an_admin_who_is_not_a_superuser_cannot_raise_anyone_in_djangos_admin(
    admin_user: User, pm_user: User
) -> None:
    people.set_role(admin_user, roles.ADMIN)  # staff, as the role makes them
    root = User.objects.create_superuser("root", "root@example.com", "root-password-1")
    client = signed_in(admin_user)
    change_root = client.post(f"/admin/auth/user/{root.pk}/change/", {"username": "root"})
    assert change_root.status_code == 403
    assert client.post(f"/admin/auth/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"/admin/auth/user/{root.pk}/password/").status_code == 403

    page = client.get(f"/admin/auth/user/{pm_user.pk}/change/")
    assert page.status_code == 200
    assert 'name="is_superuser"' not in page.content.decode()
    client.post(
        f"/admin/auth/user/{admin_user.pk}/change/",
        {
            "username": "admin",
            "is_superuser": "on",
            "is_staff": "on",
            "is_active": "on",
            "date_joined_0": "2026-12-01",
            "date_joined_1": "10:00:00",
        },
    )
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    root.refresh_from_db()
    assert root.is_active
