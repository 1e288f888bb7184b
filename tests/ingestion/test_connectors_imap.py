"""The IMAP connector against pymap, a real IMAP server (in-memory backend) the test starts."""

from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from ingestion.connectors import connector_for
from ingestion.connectors import imap as imap_connector
from ingestion.connectors.imap import ImapConfig
from ingestion.models import DataSource, FeedbackItem, SourceKind, SyncStatus
from ingestion.sync import sync_source
from tests.ingestion.local_servers import (
    IMAP_PASSWORD,
    IMAP_USER,
    ImapServer,
    imap_server,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def secrets_key(settings: object) -> None:
    settings.FEEDLENS_SECRETS_KEY = "imap-tests-key"  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[ImapServer]:
    with imap_server() as running:
        yield running


def mail(number: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {number} <customer{number}@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = f"Ticket {number}: sync fails"
    message["Date"] = f"Tue, 0{number} Nov 2026 10:00:00 +0000"
    message["Message-ID"] = f"<ticket-{number}@example.com>"
    message.set_content(f"Bank sync has failed for {number} days.")
    return bytes(message)


def mailbox_source(server: ImapServer, password: str = IMAP_PASSWORD) -> DataSource:
    config = ImapConfig(
        host="127.0.0.1", port=server.port, security="plain", username=IMAP_USER, password=password
    )
    stored = connector_for(SourceKind.IMAP).config_to_store(config, {})
    return DataSource.objects.create(
        name="Support mailbox", kind=SourceKind.IMAP, item_kind="ticket", config=stored
    )


def test_it_stores_each_message_with_subject_sender_and_plain_text_body(
    server: ImapServer,
) -> None:
    server.append(mail(1))
    server.append(mail(2))
    source = mailbox_source(server)
    result = sync_source(source.pk)
    assert (result.status, result.created) == (SyncStatus.OK, 2)
    item = FeedbackItem.objects.get(external_id="<ticket-1@example.com>")
    assert (item.kind, item.title, item.text) == (
        "ticket",
        "Ticket 1: sync fails",
        "Bank sync has failed for 1 days.",
    )
    assert item.author_handle == "Customer 1 <customer1@example.com>"
    assert item.created_at == datetime(2026, 11, 1, 10, tzinfo=UTC)
    source.refresh_from_db()
    newest = FeedbackItem.objects.get(external_id="<ticket-2@example.com>")
    assert source.sync_cursor["last_uid"] == newest.metadata["uid"] > item.metadata["uid"]
    assert "demopass" not in str(source.config)


def test_the_next_sync_fetches_only_messages_after_the_last_uid(server: ImapServer) -> None:
    server.append(mail(1))
    source = mailbox_source(server)
    sync_source(source.pk)
    server.append(mail(2))
    result = sync_source(source.pk)
    assert (result.created, result.duplicates) == (1, 0)
    assert sync_source(source.pk).pages == 0  # nothing new: nothing fetched
    assert FeedbackItem.objects.count() == 2


def test_messages_are_stored_a_page_at_a_time(
    server: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imap_connector, "MESSAGES_PER_PAGE", 2)
    for number in range(1, 6):
        server.append(mail(number))
    result = sync_source(mailbox_source(server).pk)
    assert (result.created, result.pages) == (5, 3)


def test_an_html_only_message_is_stored_without_its_markup(server: ImapServer) -> None:
    message = EmailMessage()
    message["Subject"] = "Refund"
    message["Message-ID"] = "<html-1@example.com>"
    message.set_content("<p>I want a <b>refund</b></p>", subtype="html")
    server.append(bytes(message))
    sync_source(mailbox_source(server).pk)
    assert FeedbackItem.objects.get().text == "I want a refund"


def test_a_renumbered_folder_is_read_again_without_duplicates(server: ImapServer) -> None:
    server.append(mail(1))
    source = mailbox_source(server)
    sync_source(source.pk)
    source.refresh_from_db()
    # Another UIDVALIDITY: the server renumbered the folder, so old UIDs mean nothing.
    source.sync_cursor = {**source.sync_cursor, "uidvalidity": 1, "last_uid": 9999}
    source.save(update_fields=["sync_cursor"])
    server.append(mail(2))
    result = sync_source(source.pk)
    assert (result.created, result.duplicates) == (1, 1)
    source.refresh_from_db()
    assert source.sync_cursor["uidvalidity"] != 1


def test_a_wrong_password_is_recorded_on_the_source(server: ImapServer) -> None:
    source = mailbox_source(server, password="not-the-password")
    result = sync_source(source.pk)
    assert result.status == SyncStatus.FAILED
    source.refresh_from_db()
    assert source.last_error.startswith(f"IMAP 127.0.0.1:{server.port}: ")
    assert source.failure_count == 1
