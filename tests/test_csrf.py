"""CSRF on every form: a POST without the token is refused, one with the token its page
rendered is accepted, and every POST form on every page carries a token."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from tests.test_permissions import (
    ENDPOINTS,
    POSTS,
    TOKEN,
    Endpoint,
    World,
    make_world,
    snapshot,
)

pytestmark = pytest.mark.django_db

TOKEN_FIELD = "csrfmiddlewaretoken"
PAGES = [e for e in ENDPOINTS if e.method == "get" and e.needs != TOKEN]
# Pages that render HTML (the others answer JSON or Markdown).
HTML_PAGES = [e for e in PAGES if not e.name.endswith(("_status", "_download"))]
FORM_POSTS = [e for e in POSTS if e.needs != TOKEN]


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, Any] = field(default_factory=dict)


class FormParser(HTMLParser):
    """Collect each <form> with the values its fields would send as rendered."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("method", "get").lower(), a.get("action", "")))
        elif not self.forms or (not a.get("name") and tag != "option"):
            return
        elif tag == "input":
            self._input(a)
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select:
            # The first option stands until a selected one comes.
            if self._select not in self.forms[-1].fields or "selected" in a:
                self.forms[-1].fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.forms[-1].fields[self._textarea] = ""

    def _input(self, a: dict[str, str]) -> None:
        kind = a.get("type", "text")
        if kind in ("checkbox", "radio") and "checked" not in a:
            return
        if kind not in ("submit", "button", "file"):
            self.forms[-1].fields[a["name"]] = a.get("value", "on" if kind == "checkbox" else "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.forms[-1].fields[self._textarea] += data


def forms_on(response: HttpResponse) -> list[Form]:
    parser = FormParser()
    parser.feed(response.content.decode())
    return parser.forms


@pytest.fixture
def world(admin_user: User) -> World:
    return make_world()


def csrf_client(user: User | None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user:
        client.force_login(user)
    return client


def form_for(client: Client, endpoint: Endpoint, world: World) -> Form:
    """Open the page that carries the endpoint's form and return that form."""
    if endpoint.form_page:
        name, args = endpoint.form_page
        url = reverse(name, args=args(world))
    else:
        url = endpoint.url(world)
    # The set-password link redirects to its form: follow to the page that shows it.
    page = client.get(url, follow=True)
    page_url = page.request["PATH_INFO"]
    assert page.status_code == 200, f"{page_url} answered {page.status_code}"
    target = urlsplit(endpoint.url(world)).path
    found = [
        form
        for form in forms_on(page)
        if form.method == "post" and (urlsplit(form.action).path or page_url) == target
    ]
    assert found, f"no POST form on {page_url} sends to {target}"
    return found[0]


# Forms for people not signed in; every other form is tried by an admin.
ANONYMOUS_FORMS = ("login", "password_reset_confirm")


def signed_in_user(endpoint: Endpoint, admin_user: User) -> User | None:
    return None if endpoint.name in ANONYMOUS_FORMS else admin_user


def valid_data(endpoint: Endpoint, world: World) -> dict[str, Any]:
    if endpoint.name == "login":
        return {"username": "admin", "password": "admin-password-1"}
    return endpoint.data(world)


@pytest.mark.parametrize("page", HTML_PAGES, ids=str)
def test_every_post_form_on_every_page_carries_a_csrf_token(
    page: Endpoint, world: World, admin_user: User
) -> None:
    client = csrf_client(signed_in_user(page, admin_user))
    response = client.get(page.url(world), follow=True)
    assert response.status_code == 200
    posts = [form for form in forms_on(response) if form.method == "post"]
    assert posts, "every page has at least the login or the logout form"
    for form in posts:
        assert form.fields.get(TOKEN_FIELD), f"the form to {form.action!r} has no CSRF token"


@pytest.mark.parametrize("endpoint", FORM_POSTS, ids=str)
def test_a_post_without_the_csrf_token_is_refused(
    endpoint: Endpoint, world: World, admin_user: User
) -> None:
    client = csrf_client(signed_in_user(endpoint, admin_user))
    form_for(client, endpoint, world)  # the page sets the CSRF cookie: only the token is missing
    before = snapshot()
    response = client.post(endpoint.url(world), valid_data(endpoint, world))
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert snapshot() == before
    if endpoint.name == "logout":
        assert client.get(reverse("insights:overview")).status_code == 200


@pytest.mark.parametrize("endpoint", FORM_POSTS, ids=str)
def test_a_post_with_the_token_from_its_form_is_accepted(
    endpoint: Endpoint, world: World, admin_user: User
) -> None:
    client = csrf_client(signed_in_user(endpoint, admin_user))
    form = form_for(client, endpoint, world)
    before = snapshot()
    data = {**form.fields, **valid_data(endpoint, world)}
    response = client.post(endpoint.url(world), data)
    assert response.status_code in (200, 302), response.content.decode()[:500]
    if endpoint.changes:
        assert snapshot() != before
    if endpoint.name == "login":
        assert response.url == reverse("insights:overview")
    if endpoint.name == "logout":
        assert client.get(reverse("insights:overview")).status_code == 302


def test_the_webhook_needs_its_token_not_a_csrf_token(world: World) -> None:
    url = reverse("ingestion:webhook", args=[world.source.pk])
    response = Client(enforce_csrf_checks=True).post(
        url,
        {"items": [{"text": "Exports to CSV work well now."}]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.webhook_token}"},
    )
    assert response.status_code == 200, response.content
