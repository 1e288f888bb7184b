"""The JSON/REST connector against a real HTTP server on 127.0.0.1: cursor and since paging,
the auth header, and failures half-way through a sync."""

import json
from collections.abc import Iterator

import pytest

from ingestion.connectors import connector_for
from ingestion.connectors.rest import RestConfig
from ingestion.models import DataSource, FeedbackItem, SourceKind, SyncStatus
from ingestion.normalise import ColumnMapping
from ingestion.sync import sync_source
from tests.ingestion.local_servers import Answer, LocalHttpServer, http_server, json_answer

pytestmark = pytest.mark.django_db

REVIEWS = [
    {"id": f"r{n}", "body": f"Review number {n}: the app is fine", "at": f"2026-11-0{n}T10:00:00Z"}
    for n in range(1, 6)
]
PAGE_SIZE = 2
MAPPING = ColumnMapping(text="body", external_id="id", created_at="at")


@pytest.fixture(autouse=True)
def secrets_key(settings: object) -> None:
    settings.FEEDLENS_SECRETS_KEY = "rest-tests-key"  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with http_server() as running:
        yield running


def make_source(**config: object) -> DataSource:
    stored = connector_for(SourceKind.REST).config_to_store(RestConfig(**config), {})
    return DataSource.objects.create(name="Reviews API", kind=SourceKind.REST, config=stored)


def cursor_api(items: list[dict], broken: dict[str, Answer] | None = None) -> object:
    """Pages of PAGE_SIZE items under data.reviews; the next page's offset in paging.next.
    `broken` maps an offset to the answer that page gives instead."""

    def route(query: dict[str, str], headers: dict[str, str]) -> Answer:
        offset = query.get("after", "0")
        if broken and offset in broken:
            return broken[offset]
        start = int(offset)
        following = start + PAGE_SIZE if start + PAGE_SIZE < len(items) else None
        page = {
            "data": {"reviews": items[start : start + PAGE_SIZE]},
            "paging": {"next": following},
        }
        return json_answer(json.dumps(page))

    return route


def cursor_source(server: LocalHttpServer) -> DataSource:
    return make_source(
        url=server.url("/reviews"),
        items_path="data.reviews",
        mapping=MAPPING,
        paging="cursor",
        cursor_path="paging.next",
        cursor_param="after",
    )


def stored_ids() -> list[str]:
    return sorted(FeedbackItem.objects.values_list("external_id", flat=True))


def test_it_reads_every_page_by_cursor_and_stores_each_item_once(
    server: LocalHttpServer,
) -> None:
    server.routes["/reviews"] = cursor_api(REVIEWS)
    source = cursor_source(server)
    result = sync_source(source.pk)
    assert (result.status, result.created, result.pages) == (SyncStatus.OK, 5, 3)
    assert stored_ids() == ["r1", "r2", "r3", "r4", "r5"]
    assert server.queries("/reviews") == [{}, {"after": "2"}, {"after": "4"}]
    item = FeedbackItem.objects.get(external_id="r3")
    assert (item.text, item.created_at.day) == ("Review number 3: the app is fine", 3)
    source.refresh_from_db()
    assert source.sync_cursor == {"next": 4}
    assert (source.last_sync_status, source.last_sync_created, source.failure_count) == ("ok", 5, 0)


def test_the_next_sync_asks_for_the_last_page_again_and_stores_only_what_is_new(
    server: LocalHttpServer,
) -> None:
    items = list(REVIEWS)
    server.routes["/reviews"] = cursor_api(items)
    source = cursor_source(server)
    sync_source(source.pk)
    items.append({"id": "r6", "body": "A sixth review", "at": "2026-11-06T10:00:00Z"})
    server.requests.clear()
    result = sync_source(source.pk)
    assert (result.created, result.duplicates) == (1, 1)
    assert server.queries("/reviews") == [{"after": "4"}]
    assert FeedbackItem.objects.count() == 6


@pytest.mark.parametrize(
    "failure",
    [
        json_answer('{"error": "overloaded"}', status=500),
        json_answer('{"data": {"reviews": [{"id": "r3", "body": "cut off'),
    ],
    ids=["server error", "broken JSON"],
)
def test_a_failure_on_page_two_keeps_page_one_and_the_next_sync_resumes_at_page_two(
    server: LocalHttpServer, failure: Answer
) -> None:
    broken = {"2": failure}
    server.routes["/reviews"] = cursor_api(REVIEWS, broken)
    source = cursor_source(server)

    result = sync_source(source.pk)

    assert (result.status, result.created) == (SyncStatus.PARTIAL, 2)
    assert stored_ids() == ["r1", "r2"]
    source.refresh_from_db()
    assert source.sync_cursor == {"next": 2}
    assert source.failure_count == 1
    assert source.last_sync_status == SyncStatus.PARTIAL
    assert "after=2" in source.last_error and "2 new items" in source.last_error

    broken.clear()
    server.requests.clear()
    result = sync_source(source.pk)

    assert (result.status, result.created, result.duplicates) == (SyncStatus.OK, 3, 0)
    assert server.queries("/reviews")[0] == {"after": "2"}
    assert stored_ids() == ["r1", "r2", "r3", "r4", "r5"]
    source.refresh_from_db()
    assert (source.failure_count, source.last_error) == (0, "")


def since_api(items: list[dict]) -> object:
    """Items at or after ?since= (all without it), oldest first, PAGE_SIZE at a time."""

    def route(query: dict[str, str], headers: dict[str, str]) -> Answer:
        since = query.get("since", "")
        newer = sorted((item for item in items if item["at"] >= since), key=lambda i: i["at"])
        return json_answer(json.dumps(newer[:PAGE_SIZE]))

    return route


def test_since_paging_asks_for_items_newer_than_the_newest_date_seen(
    server: LocalHttpServer,
) -> None:
    items = list(REVIEWS)
    server.routes["/feedback"] = since_api(items)
    source = make_source(
        url=server.url("/feedback?lang=en"), mapping=MAPPING, paging="since", since_param="since"
    )
    result = sync_source(source.pk)
    assert (result.created, result.status) == (5, SyncStatus.OK)
    sent = [query.get("since") for query in server.queries("/feedback")]
    # The newest date of each answer is asked for next (this API counts it in, so each page
    # brings one known item again); an answer with nothing newer ends the sync.
    assert sent == [None, *(review["at"] for review in REVIEWS[1:])]
    assert all(query["lang"] == "en" for query in server.queries("/feedback"))
    source.refresh_from_db()
    assert source.sync_cursor == {"since": REVIEWS[4]["at"]}

    items.append({"id": "r7", "body": "Newest", "at": "2026-11-07T10:00:00Z"})
    server.requests.clear()
    result = sync_source(source.pk)
    assert (result.created, result.duplicates) == (1, 2)
    assert server.queries("/feedback")[0]["since"] == REVIEWS[4]["at"]
    assert FeedbackItem.objects.count() == 6


def test_it_sends_the_auth_header_it_stores_encrypted(server: LocalHttpServer) -> None:
    def guarded(query: dict[str, str], headers: dict[str, str]) -> Answer:
        if headers.get("X-Api-Key") != "key-0123456789-abcd":
            return json_answer('{"error": "unauthorised"}', status=401)
        return json_answer(json.dumps(REVIEWS[:1]))

    server.routes["/private"] = guarded
    source = make_source(
        url=server.url("/private"),
        mapping=MAPPING,
        auth_header_name="X-Api-Key",
        auth_header_value="key-0123456789-abcd",
    )
    assert "key-0123456789-abcd" not in json.dumps(source.config)
    assert sync_source(source.pk).created == 1


def test_a_refused_request_is_recorded_on_the_source(server: LocalHttpServer) -> None:
    server.routes["/private"] = lambda query, headers: json_answer("{}", status=401)
    source = make_source(url=server.url("/private"), mapping=MAPPING)
    result = sync_source(source.pk)
    assert (result.status, result.created) == (SyncStatus.FAILED, 0)
    source.refresh_from_db()
    assert source.last_error == f"{server.url('/private')} answered 401 Unauthorized"
    assert source.last_sync_status == SyncStatus.FAILED


def test_invalid_items_are_reported_and_the_others_stored(server: LocalHttpServer) -> None:
    items = [REVIEWS[0], {"id": "empty", "body": "  ", "at": "2026-11-02T10:00:00Z"}, "text"]
    server.routes["/mixed"] = lambda query, headers: json_answer(json.dumps({"items": items}))
    source = make_source(url=server.url("/mixed"), items_path="items", mapping=MAPPING)
    result = sync_source(source.pk)
    assert (result.status, result.created, result.items_failed) == (SyncStatus.PARTIAL, 1, 2)
    source.refresh_from_db()
    assert source.last_error == "2 items were not imported; first: page 1 item 2: text is empty"
    assert source.failure_count == 0  # the endpoint works; the data has gaps


def test_a_body_without_a_list_at_the_items_path_is_an_error(server: LocalHttpServer) -> None:
    server.routes["/odd"] = lambda query, headers: json_answer('{"data": {"count": 3}}')
    source = make_source(url=server.url("/odd"), items_path="data.reviews", mapping=MAPPING)
    result = sync_source(source.pk)
    assert result.status == SyncStatus.FAILED
    assert result.error == "expected a list of items at 'data.reviews', found NoneType"


def test_the_schema_refuses_incomplete_paging_and_other_schemes() -> None:
    with pytest.raises(ValueError, match="cursor paging needs"):
        RestConfig(url="https://api.example.com/r", mapping=MAPPING, paging="cursor")
    with pytest.raises(ValueError, match="since paging needs the field"):
        RestConfig(
            url="https://api.example.com/r",
            mapping=ColumnMapping(text="body"),
            paging="since",
            since_param="since",
        )
    with pytest.raises(ValueError, match="must start with http"):
        RestConfig(url="file:///etc/passwd", mapping=MAPPING)
