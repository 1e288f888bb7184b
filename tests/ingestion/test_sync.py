"""Syncing polling sources: backoff on errors, one sync of a source at a time, the due
sources that beat queues each minute, and the tasks on a real Celery worker."""

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from ingestion.models import DataSource, FeedbackItem, SourceKind, SyncStatus
from ingestion.sync import SKIPPED, claim_due_syncs, sync_source
from ingestion.tasks import sync_due_sources_task, sync_source_task
from tests.conftest import wait_until
from tests.ingestion.local_servers import LocalHttpServer, free_port, http_server, json_answer

ITEMS = [{"id": "a1", "text": "The export button does nothing", "at": "2026-11-20T10:00:00Z"}]
MAPPING = {"text": "text", "external_id": "id", "created_at": "at"}


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with http_server() as running:
        running.routes["/items"] = lambda query, headers: json_answer(json.dumps(ITEMS))
        yield running


def rest_source(url: str, name: str = "API", **fields: object) -> DataSource:
    config = {"url": url, "mapping": MAPPING}
    return DataSource.objects.create(name=name, kind=SourceKind.REST, config=config, **fields)


def minutes_until_next_sync(source: DataSource) -> float:
    source.refresh_from_db()
    assert source.next_sync_at is not None
    return round((source.next_sync_at - timezone.now()).total_seconds() / 60)


@pytest.mark.django_db
def test_the_wait_after_an_error_doubles_with_each_failure_and_resets_on_success(
    server: LocalHttpServer,
) -> None:
    down = f"http://127.0.0.1:{free_port()}/items"  # nothing listens there
    source = rest_source(down, sync_interval_minutes=15)
    waits = []
    for _ in range(3):
        assert sync_source(source.pk).status == SyncStatus.FAILED
        waits.append(minutes_until_next_sync(source))
    assert waits == [30, 60, 120]
    assert source.failure_count == 3
    assert source.last_error == f"could not connect to {down}"

    source.config = {**source.config, "url": server.url("/items")}
    source.save(update_fields=["config"])
    assert sync_source(source.pk).created == 1
    assert minutes_until_next_sync(source) == 15
    assert (source.failure_count, source.last_error, source.last_sync_status) == (0, "", "ok")


@pytest.mark.django_db
def test_the_wait_after_errors_is_capped_at_six_hours() -> None:
    source = rest_source("http://127.0.0.1:9/items", sync_interval_minutes=60, failure_count=30)
    assert source.backoff_delay() == timedelta(hours=6)


@pytest.mark.django_db
def test_a_sync_of_a_source_that_is_syncing_is_skipped(server: LocalHttpServer) -> None:
    source = rest_source(server.url("/items"))
    assert DataSource.objects.claim_sync(source.pk, timezone.now())
    result = sync_source(source.pk)
    assert result.status == SKIPPED
    assert server.requests == []
    # The running sync ends and releases the source; the next one runs.
    DataSource.objects.release_sync(source.pk)
    assert sync_source(source.pk).created == 1
    source.refresh_from_db()
    assert source.sync_started_at is None


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_worker_is_taken_over(server: LocalHttpServer) -> None:
    source = rest_source(server.url("/items"))
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    DataSource.objects.filter(pk=source.pk).update(sync_started_at=long_ago)
    assert sync_source(source.pk).created == 1


@pytest.mark.django_db
def test_disabled_and_pushed_sources_are_not_synced(server: LocalHttpServer) -> None:
    disabled = rest_source(server.url("/items"), enabled=False)
    webhook = DataSource.objects.create(name="Hook", kind=SourceKind.WEBHOOK)
    assert sync_source(disabled.pk).status == SKIPPED
    assert sync_source(webhook.pk).status == SKIPPED
    assert server.requests == []


@pytest.mark.django_db
def test_only_enabled_polling_sources_whose_time_has_come_are_queued_and_only_once() -> None:
    now = timezone.now()
    new = rest_source("http://127.0.0.1:9/a", name="New")
    due = rest_source("http://127.0.0.1:9/b", name="Due", next_sync_at=now - timedelta(minutes=1))
    rest_source("http://127.0.0.1:9/c", name="Later", next_sync_at=now + timedelta(minutes=5))
    rest_source("http://127.0.0.1:9/d", name="Off", enabled=False)
    DataSource.objects.create(name="Hook", kind=SourceKind.WEBHOOK)

    assert sorted(claim_due_syncs()) == sorted([new.pk, due.pk])
    # Still queued (not synced yet): the next minute does not queue them again.
    assert claim_due_syncs() == []
    assert 14 <= minutes_until_next_sync(due) <= 15


def test_beat_queues_due_syncs_every_minute() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sync-due-sources"]
    assert (entry["task"], entry["schedule"]) == ("ingestion.sync_due_sources", 60.0)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_worker_syncs_the_due_sources_that_beat_asks_for(
    celery_worker: str, server: LocalHttpServer
) -> None:
    source = rest_source(server.url("/items"))
    sync_due_sources_task.delay()
    wait_until(lambda: FeedbackItem.objects.exists(), 60, "the worker did not sync the source")
    wait_until(
        lambda: DataSource.objects.get(pk=source.pk).sync_started_at is None, 30, "not released"
    )
    source.refresh_from_db()
    assert (source.last_sync_status, source.last_sync_created) == (SyncStatus.OK, 1)

    # Asked directly (the "sync now" button), a second sync finds nothing new.
    result = sync_source_task.apply_async(args=json.loads(json.dumps([source.pk])))
    assert result.id
    wait_until(
        lambda: DataSource.objects.get(pk=source.pk).last_sync_created == 0, 60, "no second sync"
    )
    assert FeedbackItem.objects.count() == 1
    assert len(server.requests) == 2
