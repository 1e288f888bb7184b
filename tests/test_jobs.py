"""The one job abstraction (feedlens.jobs): claiming with a conditional UPDATE, the lease and
its heartbeat, and how a job ends, on real rows of each job kind."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError
from django.db.models import F, Q
from django.utils import timezone

from feedlens.jobs import (
    QUEUE_UNREACHABLE,
    JobStatus,
    LeaseLost,
    carry_out,
    claim_job,
    finish_job,
    heartbeat,
    park_job,
    requeue_expired,
)
from ingestion.models import DataSource, ImportJob, ImportStatus
from ingestion.tasks import import_file
from insights.jobs import request_report, start_analysis
from insights.models import AnalysisRun, CopyDraft, Report, RunChunk
from insights.pipeline.run import new_scheduled_run
from insights.reports.period import last_full_week
from insights.tasks import generate_report_task, requeue_expired_jobs_task, run_analysis_task

pytestmark = pytest.mark.django_db


def expire_lease(job: Any) -> None:
    """What a dead worker leaves: a running job whose lease has run out."""
    type(job).objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def claimed_run(task_id: str = "") -> AnalysisRun:
    run = claim_job(AnalysisRun, AnalysisRun.objects.create().pk, task_id=task_id)
    assert run is not None
    return run


def a_report(**fields: Any) -> Report:
    """A queued report: of the job kinds, one that may have many open at once (one
    analysis run is open at a time)."""
    week = last_full_week()
    return Report.objects.create(
        period_start=week.start, period_end=week.end, time_zone=week.time_zone, **fields
    )


def claimed_report() -> Report:
    report = claim_job(Report, a_report().pk)
    assert report is not None
    return report


def failing_once(error: Exception) -> Callable[[], None]:
    """Work that raises error the first time it runs, and succeeds after."""
    calls = []

    def work() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise error

    return work


def test_a_claim_runs_the_job_under_a_lease() -> None:
    before = timezone.now()
    run = claimed_run()
    stored = AnalysisRun.objects.get(pk=run.pk)
    assert (stored.status, stored.attempts, stored.lease_token) == ("running", 1, run.lease_token)
    assert stored.started_at >= before
    lease = stored.lease_expires_at - stored.heartbeat_at
    assert lease == timedelta(seconds=settings.FEEDLENS_JOB_LEASE_SECONDS)


def test_a_second_claimer_is_refused_while_the_lease_holds() -> None:
    run = claimed_run(task_id="first")
    assert claim_job(AnalysisRun, run.pk, task_id="second") is None
    assert claim_job(AnalysisRun, run.pk) is None
    assert AnalysisRun.objects.get(pk=run.pk).lease_token == run.lease_token


@pytest.mark.parametrize("model", [Report, CopyDraft])
def test_a_finished_job_is_never_claimed(model: type[Report] | type[CopyDraft]) -> None:
    for status in (JobStatus.DONE, JobStatus.FAILED):
        if model is Report:
            job: Any = Report.objects.create(
                period_start="2026-11-02", period_end="2026-11-08", time_zone="UTC"
            )
        else:
            job = CopyDraft.objects.create(kind="changelog")
        model.objects.filter(pk=job.pk).update(status=status)
        assert claim_job(model, job.pk) is None


def test_an_expired_lease_is_claimed_again_and_its_old_holder_writes_nothing_more() -> None:
    old = claimed_run()
    expire_lease(old)

    new = claim_job(AnalysisRun, old.pk)

    assert new is not None and new.lease_token != old.lease_token and new.attempts == 2
    with pytest.raises(LeaseLost):
        heartbeat(old, done=5)
    with pytest.raises(LeaseLost):
        finish_job(old)
    heartbeat(new, done=7)
    assert AnalysisRun.objects.get(pk=new.pk).done == 7


def test_a_heartbeat_writes_progress_and_moves_the_lease_on() -> None:
    run = claimed_run()
    first_expiry = run.lease_expires_at
    heartbeat(run, stage="sentiment", done=3, total=9)
    stored = AnalysisRun.objects.get(pk=run.pk)
    assert (stored.stage, stored.done, stored.total) == ("sentiment", 3, 9)
    assert stored.lease_expires_at > first_expiry


def test_a_retry_of_the_same_task_takes_its_job_back_at_once() -> None:
    run = claimed_run(task_id="task-1")
    again = claim_job(AnalysisRun, run.pk, task_id="task-1")
    assert again is not None and again.attempts == 2


def test_a_job_whose_worker_keeps_being_killed_on_it_is_failed_not_handed_out_again() -> None:
    limit = settings.FEEDLENS_JOB_MAX_ATTEMPTS
    run = claimed_run(task_id="t1")
    AnalysisRun.objects.filter(pk=run.pk).update(attempts=limit - 1)
    # Its worker is killed (out of memory, say) and the broker hands the message out again.
    again = claim_job(AnalysisRun, run.pk, task_id="t1")
    assert again is not None and again.attempts == limit

    # Killed once more: the next delivery is refused, and fails the job once its lease
    # has run out (a live worker's lease never is).
    assert claim_job(AnalysisRun, run.pk, task_id="t1") is None
    assert AnalysisRun.objects.get(pk=run.pk).status == JobStatus.RUNNING
    expire_lease(run)
    assert claim_job(AnalysisRun, run.pk, task_id="t1") is None
    run.refresh_from_db()
    assert (run.status, run.lease_expires_at) == (JobStatus.FAILED, None)
    assert f"Its worker died {limit} times" in run.error and "out of memory" in run.error
    # So is one whose lease ran out, whoever comes for it.
    dead = claimed_report()
    Report.objects.filter(pk=dead.pk).update(attempts=limit)
    expire_lease(dead)
    assert claim_job(Report, dead.pk) is None
    assert Report.objects.get(pk=dead.pk).status == JobStatus.FAILED


def test_a_queued_job_is_claimed_however_often_it_was_before() -> None:
    # Put back to queued by a transient error or by beat: a retry, not a worker's death.
    report = a_report(attempts=settings.FEEDLENS_JOB_MAX_ATTEMPTS + 2)
    assert claim_job(Report, report.pk) is not None


def test_an_operational_error_leaves_the_job_queued_for_the_retry_which_finishes_it() -> None:
    run = claimed_run()
    work = failing_once(OperationalError("the database went away"))

    with pytest.raises(OperationalError):
        carry_out(run, work)
    run.refresh_from_db()
    assert (run.status, run.error, run.finished_at) == ("queued", "", None)

    retried = claim_job(AnalysisRun, run.pk)
    assert retried is not None
    carry_out(retried, work)
    retried.refresh_from_db()
    assert (retried.status, retried.error, retried.attempts) == ("done", "", 2)
    assert retried.finished_at is not None


def test_any_other_error_fails_the_job_with_its_reason() -> None:
    run = claimed_run()
    heartbeat(run, stage="themes")
    with pytest.raises(ValueError):
        carry_out(run, failing_once(ValueError("no items to cluster")))
    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "themes: no items to cluster")
    assert claim_job(AnalysisRun, run.pk) is None


def test_an_expected_error_fails_the_job_without_being_raised() -> None:
    run = claimed_run()
    carry_out(run, failing_once(KeyError("mapping")), expected=(KeyError,))
    assert AnalysisRun.objects.get(pk=run.pk).status == "failed"


def test_the_work_returns_the_fields_written_with_the_finish() -> None:
    run = claimed_run()
    carry_out(run, lambda: {"stage": "describing", "done": 4, "total": 4})
    stored = AnalysisRun.objects.get(pk=run.pk)
    assert (stored.status, stored.stage, stored.done, stored.lease_expires_at) == (
        "done",
        "describing",
        4,
        None,
    )


def test_beat_hands_out_again_the_jobs_whose_lease_ran_out(
    django_capture_on_commit_callbacks: Any,
) -> None:
    dead = claimed_report()
    expire_lease(dead)
    alive = claimed_report()
    a_report()  # queued: a worker will take it

    with django_capture_on_commit_callbacks() as callbacks:
        assert requeue_expired(Report, generate_report_task) == [dead.pk]

    assert len(callbacks) == 1  # its task is sent once the transaction commits
    assert Report.objects.get(pk=dead.pk).status == "queued"
    assert Report.objects.get(pk=alive.pk).status == "running"
    assert claim_job(Report, dead.pk) is not None


def test_beat_fails_a_job_whose_workers_keep_dying(
    django_capture_on_commit_callbacks: Any,
) -> None:
    source = DataSource.objects.create(name="Uploads")
    job = ImportJob.objects.create(
        source=source, file_path="/x.csv", original_name="x.csv", file_format="csv"
    )
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, attempts=settings.FEEDLENS_JOB_MAX_ATTEMPTS
    )

    with django_capture_on_commit_callbacks() as callbacks:
        assert requeue_expired(ImportJob, import_file) == []

    job.refresh_from_db()
    assert callbacks == []
    assert job.status == "failed" and job.finished_at is not None
    assert f"stopped answering {settings.FEEDLENS_JOB_MAX_ATTEMPTS} times" in job.error


def test_every_job_kind_reports_its_status_the_same_way() -> None:
    run = claimed_run()
    heartbeat(run, stage="embedding", done=1, total=4)
    payload = AnalysisRun.objects.get(pk=run.pk).status_payload()
    assert {key: payload[key] for key in ("status", "status_label", "finished", "percent")} == {
        "status": "running",
        "status_label": "Running",
        "finished": False,
        "percent": 25,
    }
    assert (payload["stage"], payload["done"], payload["total"], payload["attempts"]) == (
        "embedding",
        1,
        4,
        1,
    )


def test_beat_looks_for_expired_leases_every_minute_on_the_default_queue() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE
    tasks = {schedule[name]["task"]: schedule[name]["schedule"] for name in schedule}
    assert tasks["ingestion.requeue_expired_jobs"] == tasks["insights.requeue_expired_jobs"] == 60
    route = settings.CELERY_TASK_ROUTES["insights.requeue_expired_jobs"]
    assert route["queue"] == settings.CELERY_TASK_DEFAULT_QUEUE


def test_beat_sends_again_a_queued_job_whose_message_was_lost(
    django_capture_on_commit_callbacks: Any,
) -> None:
    long_ago = timezone.now() - timedelta(seconds=settings.FEEDLENS_JOB_LEASE_SECONDS + 1)
    lost = a_report(created_at=long_ago, handed_out_at=long_ago)
    a_report(created_at=long_ago, handed_out_at=timezone.now())  # on its way

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert requeue_expired(Report, generate_report_task) == [lost.pk]
    assert len(callbacks) == 1


def test_a_job_the_broker_cannot_take_fails_with_the_reason_and_blocks_nothing(
    broker_down: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run = start_analysis()
        report = request_report(last_full_week())
    for job in (run, report):
        job.refresh_from_db()
        assert (job.status, job.error) == (JobStatus.FAILED, QUEUE_UNREACHABLE)
        assert job.finished_at is not None
    # The failed run does not hold the schedule back.
    assert new_scheduled_run(recluster=False) is not None


def parked_run_with_chunks(chunks: int) -> tuple[AnalysisRun, list[RunChunk]]:
    """A run that handed its chunks to workers and waits on them, as _run_chunked leaves it."""
    run = claimed_run()
    made = [RunChunk.objects.create(run=run, stage="embedding", ids=[n]) for n in range(chunks)]
    heartbeat(run, stage="embedding", chunks_left=chunks)
    park_job(run)
    return run, made


def test_a_run_waiting_on_its_chunks_is_neither_abandoned_nor_handed_out_again() -> None:
    run, _ = parked_run_with_chunks(2)

    assert run.status == "running" and run.lease_expires_at is None
    assert not AnalysisRun.objects.get(pk=run.pk).is_abandoned
    assert requeue_expired(AnalysisRun, run_analysis_task) == []
    assert claim_job(AnalysisRun, run.pk, task_id="a redelivered run task") is None
    # Once its chunks are done, the worker that finished the last takes it on, and not as a
    # new attempt.
    AnalysisRun.objects.filter(pk=run.pk).update(chunks_left=0)
    taken_on = claim_job(
        AnalysisRun, run.pk, reset={"attempts": F("attempts")}, only_if=Q(chunks_left=0)
    )
    assert taken_on is not None and taken_on.attempts == 1


def test_a_chunk_whose_workers_keep_dying_fails_its_run_with_the_reason(
    django_capture_on_commit_callbacks: Any,
) -> None:
    run, (dying, waiting) = parked_run_with_chunks(2)
    assert claim_job(RunChunk, dying.pk) is not None
    RunChunk.objects.filter(pk=dying.pk).update(attempts=settings.FEEDLENS_JOB_MAX_ATTEMPTS)
    expire_lease(dying)

    with django_capture_on_commit_callbacks():
        requeue_expired_jobs_task()

    run.refresh_from_db()
    assert run.status == "failed" and "stopped answering" in run.error
    assert RunChunk.objects.get(pk=waiting.pk).status == "failed"  # not handed out again
    assert claim_job(RunChunk, waiting.pk) is None
