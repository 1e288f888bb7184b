"""The RSS/Atom connector against feeds served by a real HTTP server on 127.0.0.1."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ingestion.models import DataSource, FeedbackItem, SourceKind, SyncStatus
from ingestion.sync import sync_source
from tests.ingestion.local_servers import Answer, LocalHttpServer, http_server

pytestmark = pytest.mark.django_db

RSS_ITEM = """<item><title>{title}</title><link>https://forum.example.com/t/{n}</link>
<guid>forum-{n}</guid><author>user{n}@example.com (User {n})</author>
<pubDate>{date}</pubDate>
<description>&lt;p&gt;{text} &amp;amp; more&lt;/p&gt;</description></item>"""
ATOM_ENTRY = """<entry><title>{title}</title><id>urn:post:{n}</id>
<link href="https://blog.example.com/{n}"/><author><name>Author {n}</name></author>
<updated>{date}</updated><content type="html">&lt;b&gt;{text}&lt;/b&gt;</content></entry>"""


def rss(*entries: tuple[int, str]) -> bytes:
    items = "".join(
        RSS_ITEM.format(
            n=n, title=f"Post {n}", text=text, date=f"Mon, 0{n} Nov 2026 09:30:00 +0100"
        )
        for n, text in entries
    )
    channel = (
        f"<channel><title>Forum</title><link>https://forum.example.com</link>{items}</channel>"
    )
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def atom(*entries: tuple[int, str]) -> bytes:
    body = "".join(
        ATOM_ENTRY.format(n=n, title=f"Entry {n}", text=text, date=f"2026-11-0{n}T08:00:00Z")
        for n, text in entries
    )
    head = '<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title><id>urn:blog</id>'
    head += "<updated>2026-11-05T00:00:00Z</updated>"
    return f'<?xml version="1.0" encoding="utf-8"?>{head}{body}</feed>'.encode()


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with http_server() as running:
        yield running


def serve(server: LocalHttpServer, path: str, body: bytes, content_type: str) -> None:
    def route(query: dict[str, str], headers: dict[str, str]) -> Answer:
        return 200, content_type, body

    server.routes[path] = route


def feed_source(url: str) -> DataSource:
    return DataSource.objects.create(
        name="Forum", kind=SourceKind.RSS, item_kind="social_post", config={"url": url}
    )


def test_it_stores_the_items_of_an_rss_feed_as_plain_text(server: LocalHttpServer) -> None:
    serve(
        server,
        "/forum.rss",
        rss((1, "Export is slow"), (2, "Love the widget")),
        "application/rss+xml",
    )
    result = sync_source(feed_source(server.url("/forum.rss")).pk)
    assert (result.status, result.created) == (SyncStatus.OK, 2)
    item = FeedbackItem.objects.get(external_id="forum-1")
    assert item.text == "Export is slow & more"
    assert (item.title, item.kind) == ("Post 1", "social_post")
    assert item.author_handle == "user1@example.com (User 1)"
    assert item.created_at == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert item.metadata == {"link": "https://forum.example.com/t/1"}


def test_it_stores_the_entries_of_an_atom_feed(server: LocalHttpServer) -> None:
    serve(server, "/blog.atom", atom((3, "Dark mode please")), "application/atom+xml")
    result = sync_source(feed_source(server.url("/blog.atom")).pk)
    assert result.created == 1
    item = FeedbackItem.objects.get()
    assert (item.external_id, item.text, item.title) == (
        "urn:post:3",
        "Dark mode please",
        "Entry 3",
    )
    assert (item.author_handle, item.created_at) == (
        "Author 3",
        datetime(2026, 11, 3, 8, tzinfo=UTC),
    )


def test_a_second_sync_stores_only_the_new_entries(server: LocalHttpServer) -> None:
    serve(server, "/blog.atom", atom((1, "First"), (2, "Second")), "application/atom+xml")
    source = feed_source(server.url("/blog.atom"))
    sync_source(source.pk)
    source.refresh_from_db()
    assert source.sync_cursor == {"newest": "2026-11-02T08:00:00+00:00"}

    serve(
        server,
        "/blog.atom",
        atom((1, "First"), (2, "Second"), (3, "Third")),
        "application/atom+xml",
    )
    result = sync_source(source.pk)
    # Older entries are passed over; the one as new as the cursor comes again, as a duplicate.
    assert (result.created, result.duplicates) == (1, 1)
    assert FeedbackItem.objects.count() == 3


def test_a_page_that_is_not_a_feed_is_recorded_as_an_error(server: LocalHttpServer) -> None:
    serve(server, "/broken", b"<html><body>Maintenance", "text/html")
    source = feed_source(server.url("/broken"))
    result = sync_source(source.pk)
    assert result.status == SyncStatus.FAILED
    source.refresh_from_db()
    assert source.last_error.startswith(f"{server.url('/broken')} is not an RSS or Atom feed")
    assert source.failure_count == 1
