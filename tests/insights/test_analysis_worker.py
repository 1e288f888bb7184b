"""Analysis runs on a real Celery worker over the Redis broker."""

import re
import signal
import uuid
from datetime import date
from functools import partial
from pathlib import Path

import pytest
from django.db import transaction
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from feedlens.celery import app as celery_app
from ingestion.demo.generator import generate_demo_feedback
from ingestion.demo.load import load_demo_feedback
from ingestion.models import FeedbackItem
from insights.jobs import start_analysis
from insights.models import AnalysisRun, ItemEmbedding, ItemSentiment, RunChunk, RunStatus
from insights.tasks import requeue_expired_jobs_task
from tests.conftest import require_redis, route_tasks_to, start_worker, wait_until

pytestmark = pytest.mark.services


def load_demo(per_week: int) -> int:
    records = generate_demo_feedback(
        seed=11, weeks=2, end=date(2026, 11, 1), items_per_week=per_week
    )
    return load_demo_feedback(records).created


def held_in_sentiment(run_id: int) -> bool:
    """Whether the run is in its sentiment stage, past its first chunk, and held by its
    worker under a lease (not waiting on chunks, when it holds none)."""
    run = AnalysisRun.objects.get(pk=run_id)
    return run.stage == "sentiment" and run.done > 0 and run.lease_expires_at is not None


def stage_of(run_id: int) -> tuple[str, str, int, int]:
    run = AnalysisRun.objects.get(pk=run_id)
    return run.status, run.stage, run.done, run.total


@pytest.mark.django_db(transaction=True)
def test_the_analysis_page_starts_a_run_that_a_worker_finishes(
    celery_worker: str, admin_client: Client
) -> None:
    items = load_demo(per_week=40)
    response = admin_client.post(reverse("insights:analysis"), {"recluster": "on"})
    run = AnalysisRun.objects.get()
    assert response.url == reverse("insights:analysis_run", args=[run.pk])
    wait_until(lambda: stage_of(run.pk)[0] == RunStatus.DONE, 300, "the run did not finish")
    status = admin_client.get(reverse("insights:analysis_run_status", args=[run.pk])).json()
    assert status["finished"] and status["stage"] == "describing"
    assert status["stats"]["embedding"]["items"] == items
    assert ItemSentiment.objects.count() == items


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_loses_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    require_redis()
    queue = f"feedlens-kill-{uuid.uuid4().hex[:8]}"

    request.addfinalizer(partial(route_tasks_to, celery_app.conf.task_default_queue))
    route_tasks_to(queue)
    items = load_demo(per_week=150)
    # Hand an unacknowledged task out again seconds, not hours, after its worker died.
    log = tmp_path / "worker.log"
    worker = start_worker(queue, log, CELERY_VISIBILITY_TIMEOUT="5")
    run = start_analysis()
    try:
        scoring = RunChunk.objects.filter(run=run, stage="sentiment", status=RunStatus.RUNNING)
        first_worker = worker

        def kill_mid_chunk() -> RunChunk | None:
            """Mid-stage (done counts finished chunks, so it turns positive between two),
            kill the worker while a scoring chunk is under way; None when none is."""
            _, stage, done, _ = stage_of(run.pk)
            chunk = scoring.first() if stage == "sentiment" and done > 0 else None
            if chunk is None:
                return None
            with transaction.atomic():
                # Written to, the chunk is locked (its row on PostgreSQL, the database on
                # SQLite): its worker cannot finish it before the kill.
                if not scoring.filter(pk=chunk.pk).update(worker=F("worker")):
                    return None  # it finished meanwhile
                first_worker.send_signal(signal.SIGKILL)
                first_worker.wait(timeout=30)
            return chunk

        killed = wait_until(kill_mid_chunk, 300, "the run never reached the sentiment stage")
        killed_at = stage_of(run.pk)
        assert killed_at[0] == RunStatus.RUNNING and killed_at[2] < items
        # The run waiting for it is the first thing it does: done is the proof it works.
        worker = start_worker(queue, log, answer_first=False, CELERY_VISIBILITY_TIMEOUT="5")
        wait_until(lambda: stage_of(run.pk)[0] == RunStatus.DONE, 600, log.read_text()[-3000:])
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    # The chunk the worker was on was handed out again after the kill, and taken back by
    # its task's id. A third delivery is possible too: with a 5 s visibility timeout Redis
    # may hand the task out again while the restarted worker still runs it; that copy finds
    # the chunk done.
    received = re.findall(rf"Task insights\.\w+\[{killed.task_id}\] received", log.read_text())
    assert len(received) >= 2
    killed.refresh_from_db()
    assert (killed.status, killed.attempts) == (RunStatus.DONE, 2)
    assert ItemEmbedding.objects.count() == FeedbackItem.objects.count() == items
    assert ItemSentiment.objects.exclude(predicted="").count() == items


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_died_is_taken_again_once_its_lease_runs_out(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The lease, not the broker: the dead worker's message stays unacknowledged for the
    broker's hours-long visibility timeout, and beat's requeue hands the run out again."""
    require_redis()
    queue = f"feedlens-lease-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(partial(route_tasks_to, celery_app.conf.task_default_queue))
    route_tasks_to(queue)
    items = load_demo(per_week=60)
    log = tmp_path / "worker.log"
    short_lease = {"FEEDLENS_JOB_LEASE_SECONDS": "10"}
    worker = start_worker(queue, log, **short_lease)
    run = start_analysis()
    try:
        wait_until(
            lambda: held_in_sentiment(run.pk),
            300,
            "the run never reached the sentiment stage",
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        assert stage_of(run.pk)[0] == RunStatus.RUNNING
        wait_until(
            lambda: AnalysisRun.objects.get(pk=run.pk).lease_expires_at < timezone.now(),
            60,
            "the dead worker's lease did not run out",
        )
        worker = start_worker(queue, log, **short_lease)
        requeue_expired_jobs_task.delay()  # what beat sends every minute
        wait_until(lambda: stage_of(run.pk)[0] == RunStatus.DONE, 600, log.read_text()[-3000:])
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    finished = AnalysisRun.objects.get(pk=run.pk)
    assert (finished.attempts, finished.error) == (2, "")
    assert ItemEmbedding.objects.count() == FeedbackItem.objects.count() == items
    assert ItemSentiment.objects.exclude(predicted="").count() == items
