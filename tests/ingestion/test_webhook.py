import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from ingestion import webhook
from ingestion.models import DataSource, FeedbackItem, SyncStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def source() -> DataSource:
    return DataSource.objects.create(name="Zendesk", kind="webhook", item_kind="ticket")


@pytest.fixture
def token(source: DataSource) -> str:
    return source.rotate_webhook_token()


def post(source: DataSource, body: object, token: str, **extra: str) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = Client().post(
        reverse("ingestion:webhook", args=[source.pk]),
        data=data,
        content_type=extra.pop("content_type", "application/json"),
        headers={"Authorization": f"Bearer {token}", **extra},
    )
    return response.status_code, response.json()


TICKET = {
    "id": "T-1",
    "text": "Cannot log in since the 2FA change",
    "title": "Login",
    "created_at": "2026-11-20T08:30:00Z",
    "metadata": {"priority": "high"},
}


def test_it_stores_one_item(source: DataSource, token: str) -> None:
    status, body = post(source, TICKET, token)
    assert (status, body) == (200, {"received": 1, "created": 1, "duplicates": 0, "errors": []})
    item = FeedbackItem.objects.get()
    assert (item.kind, item.title, item.metadata) == ("ticket", "Login", {"priority": "high"})
    source.refresh_from_db()
    assert source.last_sync_status == SyncStatus.OK


def test_it_stores_the_valid_items_of_a_batch_and_reports_the_rest(
    source: DataSource, token: str
) -> None:
    batch = {"items": [TICKET, {"id": "T-2", "text": ""}, {**TICKET, "id": "T-3", "rating": "ten"}]}
    status, body = post(source, batch, token)
    assert status == 207
    assert (body["created"], body["duplicates"]) == (1, 0)
    assert body["errors"] == [
        {"position": "item 2", "field": "text", "message": "is empty"},
        {"position": "item 3", "field": "rating", "message": "'ten' is not a number"},
    ]
    source.refresh_from_db()
    assert source.last_sync_status == SyncStatus.PARTIAL


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ('{"id": "B", "text": "bad author", "author": "x\\u0000y"}', None),
        ('{"id": "B\\u0000", "text": "bad id"}', None),
        ('{"id": "B", "text": "bad metadata", "metadata": {"k\\u0000": "v\\u0000"}}', None),
        ('{"id": "B", "text": "lone surrogate \\ud800"}', "text"),
        ('{"id": "B", "text": "surrogate author", "author": "\\udc00"}', "author"),
        ('{"id": "B", "text": "infinite", "metadata": {"n": Infinity}}', "metadata"),
        ('{"id": "B", "text": "not a number", "metadata": {"n": NaN}}', "metadata"),
        ('{"id": "B", "text": "huge rating", "rating": 1' + "0" * 5000 + "}", "rating"),
        ('{"id": "B", "text": "huge", "metadata": {"n": 1' + "0" * 5000 + "}}", "metadata"),
        ('{"id": "B", "text": "deep", "metadata": ' + '{"a": ' * 50 + "1" + "}" * 51, "metadata"),
        ('{"id": "B", "text": "big", "metadata": {"k": "' + "x" * 20_000 + '"}}', "metadata"),
        ('{"id": "B", "text": {"a": 1}}', "text"),
        ('{"id": "B", "text": ["a", "list"]}', "text"),
        ('{"id": {"a": 1}, "text": "an object as id"}', "external_id"),
        ('{"id": "B", "text": "an object as kind", "kind": {"a": 1}}', "kind"),
    ],
)
def test_one_bad_value_costs_its_item_only(
    source: DataSource, token: str, bad: str, field: str | None
) -> None:
    good = [json.dumps({"id": f"G-{n}", "text": f"Good item number {n}"}) for n in range(5)]
    body = ("[" + ", ".join([*good[:2], bad, *good[2:]]) + "]").encode()
    status, answer = post(source, body, token)
    stored = set(FeedbackItem.objects.values_list("external_id", flat=True))
    assert {f"G-{n}" for n in range(5)} <= stored
    if field is None:  # cleaned, not rejected: the control character is gone
        assert (status, answer["created"], answer["errors"]) == (200, 6, [])
        assert not any(
            "\x00" in str(v)
            for v in FeedbackItem.objects.values_list("external_id", "author_handle", "metadata")
        )
    else:
        assert (status, answer["created"]) == (207, 5)
        assert [(e["position"], e["field"]) for e in answer["errors"]] == [("item 3", field)]


def test_a_value_json_cannot_store_is_named_as_the_client_wrote_it(
    source: DataSource, token: str
) -> None:
    body = b'[{"text": "a", "metadata": {"n": Infinity}}, {"text": "b", "metadata": {"n": NaN}}]'
    assert [error["message"] for error in post(source, body, token)[1]["errors"]] == [
        "holds Infinity, which JSON cannot store",
        "holds NaN, which JSON cannot store",
    ]


def test_a_body_nested_beyond_reading_is_refused_whole_and_clearly(
    source: DataSource, token: str
) -> None:
    deep = '{"id": "B", "text": "deep", "metadata": ' + '{"a": ' * 5000 + "1" + "}" * 5001
    status, answer = post(source, f'[{deep}, {{"text": "fine"}}]'.encode(), token)
    assert (status, answer) == (400, {"error": "the body nests too deeply to read"})


def test_sending_the_same_item_twice_stores_it_once(source: DataSource, token: str) -> None:
    post(source, [TICKET], token)
    status, body = post(source, [TICKET, {**TICKET, "text": "edited"}], token)
    assert (status, body["created"], body["duplicates"]) == (200, 0, 2)
    assert FeedbackItem.objects.count() == 1


def test_a_batch_with_no_valid_item_is_unprocessable(source: DataSource, token: str) -> None:
    status, body = post(source, [{"text": "fine", "kind": "email"}], token)
    assert status == 422
    assert body["errors"][0]["message"] == "'email' is not one of review, ticket, social_post"


def test_it_rejects_a_wrong_token(source: DataSource, token: str) -> None:
    assert post(source, TICKET, "not-the-token")[0] == 401
    assert post(source, TICKET, "")[0] == 401
    assert FeedbackItem.objects.count() == 0


def test_an_unknown_source_answers_like_a_wrong_token(source: DataSource, token: str) -> None:
    other = DataSource(pk=source.pk + 100, name="ghost")
    assert post(other, TICKET, token) == (
        401,
        {"error": "missing or wrong token: send 'Authorization: Bearer TOKEN'"},
    )


def test_a_rotated_token_replaces_the_old_one(source: DataSource, token: str) -> None:
    new_token = source.rotate_webhook_token()
    assert post(source, TICKET, token)[0] == 401
    assert post(source, TICKET, new_token)[0] == 200


def test_a_disabled_source_accepts_nothing(source: DataSource, token: str) -> None:
    source.enabled = False
    source.save()
    assert post(source, TICKET, token) == (403, {"error": "the source 'Zendesk' is disabled"})


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "the body is not valid JSON"),
        ("Caf\u00e9".encode("latin-1"), "application/json", 400, "the body is not UTF-8"),
        (b'"just a string"', "application/json", 400, "the body must be an item"),
        (b"[]", "application/json", 400, "the body has no items"),
        (b"text=hello", "application/x-www-form-urlencoded", 415, "application/json"),
    ],
)
def test_it_rejects_bodies_that_are_not_items(
    source: DataSource, token: str, body: bytes, content_type: str, status: int, message: str
) -> None:
    answer_status, answer = post(source, body, token, content_type=content_type)
    assert answer_status == status
    assert message in answer["error"]


def test_it_rejects_an_oversize_body(source: DataSource, token: str, settings: object) -> None:
    settings.FEEDLENS_WEBHOOK_MAX_BYTES = 1024  # type: ignore[attr-defined]
    status, body = post(source, {**TICKET, "text": "long " * 500}, token)
    assert (status, body) == (413, {"error": "the body is larger than 1 KB"})


def test_it_rejects_a_batch_over_the_item_limit(
    source: DataSource, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook, "MAX_ITEMS_PER_REQUEST", 2)
    status, body = post(source, [TICKET] * 3, token)
    assert status == 400
    assert body["error"] == "the body has 3 items; send at most 2 a request"


def test_the_webhook_answers_only_post(source: DataSource, token: str) -> None:
    response = Client().get(reverse("ingestion:webhook", args=[source.pk]))
    assert response.status_code == 405


def test_the_token_command_prints_a_working_token() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("webhook_token", "Intercom", stdout=out)
    token = out.getvalue().split("Authorization: Bearer ")[1].split()[0]
    source = DataSource.objects.get(name="Intercom")
    assert source.accepts_webhook_token(token)
    assert post(source, TICKET, token)[0] == 200


class Body:
    """A body that records the sizes it was asked to read."""

    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)
        self.asked: list[int] = []

    def read(self, size: int, /) -> bytes:
        self.asked.append(size)
        return self.stream.read(size)


def test_reading_a_payload_returns_its_json_reading_one_byte_past_the_limit(
    settings: object,
) -> None:
    settings.FEEDLENS_WEBHOOK_MAX_BYTES = 1024  # type: ignore[attr-defined]
    body = Body(json.dumps([TICKET]).encode())
    assert webhook.read_payload("application/json", body) == [TICKET]
    assert body.asked == [1025]


@pytest.mark.parametrize(
    ("content_type", "data", "status"),
    [
        ("text/plain", b"{}", 415),
        ("application/json", b"x" * 1025, 413),
        ("application/json", b"{not json", 400),
    ],
)
def test_a_payload_that_cannot_be_read_says_which_status_answers_it(
    settings: object, content_type: str, data: bytes, status: int
) -> None:
    settings.FEEDLENS_WEBHOOK_MAX_BYTES = 1024  # type: ignore[attr-defined]
    with pytest.raises(webhook.PayloadError) as raised:
        webhook.read_payload(content_type, Body(data))
    assert raised.value.status == status


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_the_same_ids_count_each_item_created_once() -> None:
    source = DataSource.objects.create(name="Zendesk", kind="webhook", item_kind="ticket")
    token = source.rotate_webhook_token()
    batch = [{"id": f"T-{n}", "text": f"Ticket number {n} about the export"} for n in range(25)]
    senders = 8
    start = threading.Barrier(senders)

    def send() -> dict:
        start.wait()
        try:
            return post(source, batch, token)[1]
        finally:
            connection.close()  # each thread's own connection

    with ThreadPoolExecutor(senders) as pool:
        answers = list(pool.map(lambda _: send(), range(senders)))
    assert FeedbackItem.objects.count() == len(batch)
    assert sum(answer["created"] for answer in answers) == len(batch)
    assert sum(answer["duplicates"] for answer in answers) == len(batch) * (senders - 1)
