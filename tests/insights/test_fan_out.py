"""An analysis run fanned out over real Celery worker processes: chunks shared between
workers, every item done once, and a chunk whose worker was killed done by another."""

import os
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from feedlens.jobs import JobStatus
from ingestion.demo.generator import generate_demo_feedback
from ingestion.demo.load import load_demo_feedback
from ingestion.models import FeedbackItem
from insights.jobs import start_analysis
from insights.models import (
    AnalysisRun,
    DescribingCorpus,
    ItemEmbedding,
    ItemSentiment,
    RunChunk,
    Theme,
    ThemeAssignment,
)
from insights.pipeline.run import STAGES
from insights.tasks import requeue_expired_jobs_task
from tests.conftest import require_redis, start_worker, tasks_routed_to, wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

# Small chunks, so that 120 items make several of each stage; one thread each, so that
# two workers on two cores do not fight over them.
WORKER_ENV = {
    "FEEDLENS_EMBED_CHUNK_ITEMS": "15",
    "FEEDLENS_SCORE_CHUNK_ITEMS": "10",
    "FEEDLENS_PREDICT_CHUNK_ITEMS": "40",
    "LLM_N_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}


class Workers:
    """Real worker processes reading one queue of this test's own."""

    def __init__(self, queue: str, log_dir: Path) -> None:
        self.queue, self.log_dir = queue, log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> str:
        hostname = f"{name}@{self.queue}"
        log = self.log_dir / f"{name}.log"
        self.processes[hostname] = start_worker(self.queue, log, name=hostname, **WORKER_ENV)
        return hostname

    def kill(self, hostname: str) -> None:
        """End the worker at once, as the system does a process out of memory."""
        os.kill(self.processes[hostname].pid, signal.SIGKILL)
        self.processes.pop(hostname).wait(timeout=30)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(timeout=60)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    require_redis()
    if connection.vendor != "postgresql":
        pytest.skip("workers writing at once need PostgreSQL (SQLite has one writer at a time)")
    queue = f"feedlens-fan-out-{uuid.uuid4().hex[:8]}"
    started = Workers(queue, tmp_path)
    with tasks_routed_to(queue):
        try:
            yield started
        finally:
            started.stop()


def load_feedback() -> int:
    records = generate_demo_feedback(seed=7, weeks=1, end=date(2026, 11, 1), items_per_week=120)
    return load_demo_feedback(records).created


def finished(run: AnalysisRun) -> bool:
    run.refresh_from_db()
    return run.is_finished


def assert_every_item_done_once(run: AnalysisRun, items: int) -> None:
    assert run.status == JobStatus.DONE, run.error
    for stage in ("embedding", "sentiment", "predicting"):
        chunks = RunChunk.objects.filter(run=run, stage=stage)
        assert chunks.count() > 1
        assert set(chunks.values_list("status", flat=True)) == {JobStatus.DONE}
        in_chunks = Counter(pk for chunk in chunks for pk in chunk.ids)
        assert set(in_chunks.values()) == {1}  # no item in two chunks
    embedded = RunChunk.objects.filter(run=run, stage="embedding")
    assert sum(len(chunk.ids) for chunk in embedded) == items
    assert ItemEmbedding.objects.count() == items == FeedbackItem.objects.count()
    assert ItemSentiment.objects.exclude(predicted="").count() == items
    assert ThemeAssignment.objects.exists()
    assert set(run.stats) == set(STAGES)
    assert run.stats["embedding"]["items"] == items
    # Every theme described in a chunk of its own, each under a name of its own.
    themes = Theme.objects.live()
    described = RunChunk.objects.filter(run=run, stage="describing", status=JobStatus.DONE)
    assert sorted(chunk.ids for chunk in described) == sorted(
        [pk] for pk in themes.values_list("pk", flat=True)
    )
    names = [name.casefold() for name in themes.values_list("name", flat=True)]
    assert len(set(names)) == len(names) == run.stats["describing"]["items"]
    assert not DescribingCorpus.objects.exists()  # dropped once the names were settled


def test_two_workers_share_a_runs_chunks_and_every_item_is_done_once(
    workers: Workers, admin_client: Client
) -> None:
    items = load_feedback()
    names = {workers.start("first"), workers.start("second")}

    run = start_analysis()
    wait_until(lambda: finished(run), 600, "the run did not finish")

    assert_every_item_done_once(run, items)
    chunks = RunChunk.objects.filter(run=run)
    assert set(chunks.values_list("attempts", flat=True)) == {1}  # each chunk done once
    assert set(chunks.values_list("worker", flat=True)) == names  # by both workers

    # The Analysis page lists both, with the last share each did.
    page = admin_client.get(reverse("insights:analysis")).content.decode()
    for name in names:
        last = chunks.filter(worker=name).order_by("-finished_at").first()
        assert last is not None
        row = page[page.index(f"<td>{name}</td>") :].split("</tr>")[0]
        assert f"{last.stage} of" in row and f"run #{run.pk}" in row and "done" in row


def test_a_chunk_whose_worker_was_killed_is_done_by_another(workers: Workers) -> None:
    items = load_feedback()
    first = workers.start("first")
    run = start_analysis()
    held = RunChunk.objects.filter(run=run, status=JobStatus.RUNNING, worker=first)
    with transaction.atomic():
        # Locked, the chunk cannot be finished by its worker before the kill (a chunk of
        # 15 items takes well under a second); the dead worker's finish is rolled back.
        killed = wait_until(
            lambda: held.select_for_update().first(), 300, "the first worker took no chunk"
        )
        workers.kill(first)
        # Its lease runs out (no heartbeat came from the dead worker): beat hands it out again.
        RunChunk.objects.filter(pk=killed.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
    second = workers.start("second")
    requeue_expired_jobs_task.delay()
    wait_until(lambda: finished(run), 600, "the run did not finish")

    assert_every_item_done_once(run, items)
    killed.refresh_from_db()
    assert (killed.status, killed.attempts, killed.worker) == (JobStatus.DONE, 2, second)
