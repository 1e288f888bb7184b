"""Long work as a database row: one abstract model for imports, analysis runs, reports and
copy drafts, and the one way to claim, heartbeat, finish, fail and hand out such a row again.

The page that starts a job creates its row and hands the id to a worker (each app's jobs.py,
on commit); the page then polls the row (job_status_response, static/js/job_progress.js).
A worker claims the row with a conditional UPDATE and checks the count, so of two workers
only one carries it out. While it works, every progress write is a heartbeat that extends its
lease. A worker that dies stops extending it: beat's requeue_expired hands the job out again
within a minute of the lease running out, or fails it after FEEDLENS_JOB_MAX_ATTEMPTS claims,
instead of waiting hours for the broker's visibility timeout. Each claim gets a new token
that heartbeats and the finish check, so a worker whose job was taken over writes nothing more.

carry_out records how the work ended: done; failed with the reason for an ordinary error;
or, for a transient error (the database going away), released to queued and raised again,
so that the task's autoretry_for claims it again and carries it through.
"""

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Protocol, TypeVar

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

# Worth waiting for: a database that restarts or fails over. Each job task retries exactly
# these (autoretry_for=TRANSIENT_ERRORS), and carry_out leaves the job claimable for it.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError,)
# Every job task's retry options (@shared_task(**JOB_TASK_RETRY)): those errors only, from
# 30 s to 10 minutes apart, five times (about half an hour in all).
JOB_TASK_RETRY: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "max_retries": 5,
}
# Longest error text kept on a job; a traceback belongs in the worker's log.
MAX_ERROR_CHARS = 2000
# What a job that could not be handed to a worker says on its page.
QUEUE_UNREACHABLE = "Could not start: the task queue is unreachable. Try again once it is back."


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


FINISHED = (JobStatus.DONE, JobStatus.FAILED)
OPEN = (JobStatus.QUEUED, JobStatus.RUNNING)


class LeaseLost(Exception):
    """Another worker has taken the job over (this worker's lease ran out): stop working."""


class Parked(Exception):
    """The job waits on other jobs (an analysis run on its chunks): it stays running, held by
    no worker, and one of them takes it on when they are done (park_job)."""


class JobHeld(Exception):
    """The job is being carried out by another worker, whose lease has not run out."""


class QueueUnreachable(Exception):
    """The broker could not take the task: nothing was handed to a worker."""


class Job(models.Model):
    """What every long job has: status, error, times, and the lease of the worker on it."""

    # The statuses a worker may claim the job from (besides running with an expired lease).
    claimable_statuses: ClassVar[tuple[str, ...]] = (JobStatus.QUEUED,)
    # Which running jobs hold no lease because they wait on other jobs that hold their own
    # (park_job): never abandoned, never handed out again by requeue_expired.
    waiting_on_others: ClassVar[Q] = Q(pk__in=[])

    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the latest claim took it (a job taken over starts again).
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The lease: the worker on the job writes a heartbeat with each progress step, which
    # moves the expiry FEEDLENS_JOB_LEASE_SECONDS ahead. Running with an expired (or no)
    # lease means the worker died: the job may be claimed again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # New at each claim: heartbeats and the finish only write while it is still theirs.
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    # The Celery task that claimed it: a retry or a redelivery of that task (the same id)
    # takes the job back at once, even if the failed attempt could not release it.
    task_id = models.CharField(max_length=255, blank=True, editable=False)
    # When the job was last handed to the broker: a job queued for longer than a lease
    # since then is handed out again by beat (its message may have been lost).
    handed_out_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Claims so far; requeue_expired gives up after FEEDLENS_JOB_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def is_abandoned(self) -> bool:
        """Running with no live lease: whoever carried it out stopped (a killed worker, an
        interrupted command), and anyone may claim it."""
        expiry = self.lease_expires_at
        if self.status != JobStatus.RUNNING or (expiry and expiry >= timezone.now()):
            return False
        return not type(self)._default_manager.filter(self.waiting_on_others, pk=self.pk).exists()

    def progress(self) -> tuple[int, int]:
        """Return (done, total) for the progress bar: steps, items, bytes, as the job counts."""
        return 0, 0

    @property
    def percent_done(self) -> int:
        """Return how far the job is, 0 to 100; 100 only once it is done."""
        done, total = self.progress()
        if self.status == JobStatus.DONE:
            return 100
        return min(99, int(100 * done / total)) if total else 0

    def failure_message(self, error: Exception) -> str:
        """Return what a person reads when error failed the job."""
        return str(error) or type(error).__name__

    def status_details(self) -> dict[str, Any]:
        """Return the job's own fields for its page, as JSON values."""
        return {}

    def status_payload(self) -> dict[str, Any]:
        """Return the job's status as JSON values: what every job has, then its details."""
        done, total = self.progress()
        return {
            "status": self.status,
            "status_label": self.get_status_display(),
            "finished": self.is_finished,
            "done": done,
            "total": total,
            "percent": self.percent_done,
            "error": self.error,
            "attempts": self.attempts,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "heartbeat_at": _iso(self.heartbeat_at),
            **self.status_details(),
        }


J = TypeVar("J", bound=Job)


class Enqueueable(Protocol):
    """A Celery task, as far as handing it a job is concerned."""

    def delay(self, *args: Any) -> object: ...


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def lease_duration() -> timedelta:
    return timedelta(seconds=settings.FEEDLENS_JOB_LEASE_SECONDS)


def send(task: Enqueueable, *args: Any) -> None:
    """Hand the task to the broker now; raise QueueUnreachable when it cannot take it.

    Celery gives up on an unreachable broker after its publish retries (about a second),
    raising kombu's OperationalError for every transport."""
    try:
        task.delay(*args)
    except BrokerError as error:
        logger.error("could not send %s%r to the broker: %s", task, args, error)
        raise QueueUnreachable(QUEUE_UNREACHABLE) from error


def enqueue_on_commit(task: Enqueueable, object_id: int) -> None:
    """Hand the task an id once the current transaction commits (at once outside one): a
    worker must never look for a row that is not committed yet."""
    transaction.on_commit(partial(send, task, object_id))


def hand_out_on_commit(task: Enqueueable, job: Job) -> None:
    """Hand the job to a worker once the current transaction commits. When the broker cannot
    take it the job is failed with QUEUE_UNREACHABLE, for its page to say so; it is never
    left queued with nothing on its way to a worker."""
    transaction.on_commit(partial(_hand_out, task, type(job), job.pk))


def _hand_out(task: Enqueueable, model: type[Job], job_id: int) -> None:
    waiting = model._default_manager.filter(pk=job_id, status=JobStatus.QUEUED)
    if not waiting.update(handed_out_at=timezone.now()):
        return  # taken or finished meanwhile: there is nothing to hand out
    try:
        send(task, job_id)
    except QueueUnreachable as error:
        waiting.update(status=JobStatus.FAILED, error=str(error), finished_at=timezone.now())


def claim_job(
    model: type[J],
    job_id: int,
    *,
    task_id: str = "",
    reset: Mapping[str, Any] | None = None,
    only_if: Q | None = None,
) -> J | None:
    """Take the job for this worker under a fresh lease; return it, running, or None when it
    is not to be carried out here: finished, or held by another worker's live lease.

    One conditional UPDATE, so of two claimers one wins. reset names fields to set with the
    claim (a draft written again from nothing; attempts kept as they are, for a job taken
    on again that did not fail); only_if narrows which rows may be claimed."""
    now = timezone.now()
    token = uuid.uuid4().hex
    expired = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    # Taking over a running job: its worker died (an expired lease), or the broker hands
    # out again the message of a worker killed while on it (the same task id).
    taken_over = expired | Q(task_id=task_id) if task_id else expired
    taken_over &= Q(status=JobStatus.RUNNING) & ~model.waiting_on_others
    worn_out = Q(attempts__gte=settings.FEEDLENS_JOB_MAX_ATTEMPTS)
    claimable = Q(status__in=model.claimable_statuses) | (taken_over & ~worn_out)
    if only_if is not None:
        claimable &= only_if
    claim: dict[str, Any] = {
        "status": JobStatus.RUNNING,
        "error": "",
        "started_at": now,
        "finished_at": None,
        "heartbeat_at": now,
        "lease_expires_at": now + lease_duration(),
        "lease_token": token,
        "task_id": task_id,
        "attempts": F("attempts") + 1,
    }
    claimed = model._default_manager.filter(claimable, pk=job_id).update(
        **claim | dict(reset or {})
    )
    if not claimed:
        # Only once the lease has run out: a message delivered twice to a live worker
        # must not end its job.
        dead = Q(status=JobStatus.RUNNING) & expired & worn_out & ~model.waiting_on_others
        _give_up(model._default_manager.filter(dead, pk=job_id), now)
        return None
    return model._default_manager.filter(pk=job_id, lease_token=token).first()


def _give_up(jobs: "models.QuerySet[Any]", now: datetime) -> None:
    """Fail the jobs whose workers died on them FEEDLENS_JOB_MAX_ATTEMPTS times, rather than
    hand them to the next worker to die the same way (a process killed outright, most often
    by the system for lack of memory, leaves no error of its own). A message the broker
    hands out again at once after such a death finds the lease still running: the claim is
    refused, and this (or beat's requeue_expired) fails the job once the lease runs out."""
    for job in jobs.only("pk", "attempts"):
        logger.error("%s: its worker died %s times on it; failing it", job, job.attempts)
    jobs.update(
        status=JobStatus.FAILED,
        error=(
            f"Its worker died {settings.FEEDLENS_JOB_MAX_ATTEMPTS} times while carrying it out, "
            "killed without an error of its own: most often the system ending a process that "
            "ran out of memory (see the worker's log and its memory limit). Start it again "
            "once that is fixed."
        ),
        finished_at=now,
        lease_expires_at=None,
    )


def _held(job: Job) -> "models.QuerySet[Any]":
    """The job's row, as long as this worker's claim still holds it."""
    rows = type(job)._default_manager.filter(pk=job.pk, status=JobStatus.RUNNING)
    return rows.filter(lease_token=job.lease_token)


def heartbeat(job: Job, **progress: Any) -> None:
    """Extend the job's lease, writing the progress fields given in the same UPDATE; raise
    LeaseLost when another worker has taken the job over."""
    now = timezone.now()
    fields = {"heartbeat_at": now, "lease_expires_at": now + lease_duration(), **progress}
    if not _held(job).update(**fields):
        raise LeaseLost(f"{job} was taken over by another worker")
    for name, value in fields.items():
        setattr(job, name, value)


def finish_job(job: Job, **fields: Any) -> None:
    """Mark the job done, writing fields with it; raise LeaseLost if it is no longer ours."""
    done = {
        "status": JobStatus.DONE,
        "finished_at": timezone.now(),
        "lease_expires_at": None,
        **fields,
    }
    if not _held(job).update(**done):
        raise LeaseLost(f"{job} was taken over by another worker before it finished")
    for name, value in done.items():
        setattr(job, name, value)


def park_job(job: Job, **fields: Any) -> None:
    """Let go of the job while it waits on other jobs (see Parked): it stays running with no
    lease and no holder, writing fields with it; raise LeaseLost if it is no longer ours.
    The job's model says which of its rows so wait (Job.waiting_on_others)."""
    parked = {"heartbeat_at": timezone.now(), "lease_expires_at": None, "lease_token": "", **fields}
    if not _held(job).update(**parked):
        raise LeaseLost(f"{job} was taken over by another worker before it could wait")
    for name, value in parked.items():
        setattr(job, name, value)


def fail_job(job: Job, error: str) -> None:
    """Mark the job failed with error, unless another worker has taken it over."""
    failed = {
        "status": JobStatus.FAILED,
        "error": error[:MAX_ERROR_CHARS],
        "finished_at": timezone.now(),
        "lease_expires_at": None,
    }
    if _held(job).update(**failed):
        for name, value in failed.items():
            setattr(job, name, value)


def release_job(job: Job) -> None:
    """Put the job back to queued for the task's retry. Best effort: the database may still be
    away, and then the lease (or the retry's task id) lets the job be claimed again."""
    if not connection.in_atomic_block:
        # The error that brought us here may have broken the connection: use a new one.
        connection.close_if_unusable_or_obsolete()
    try:
        _held(job).update(status=JobStatus.QUEUED, lease_expires_at=None)
    except DatabaseError as error:
        logger.warning("%s stays claimed until its lease runs out: %s", job, error)
        return
    job.status, job.lease_expires_at = JobStatus.QUEUED, None


def carry_out(
    job: J,
    work: Callable[[], Mapping[str, Any] | None],
    *,
    expected: tuple[type[Exception], ...] = (),
    transient: tuple[type[Exception], ...] = TRANSIENT_ERRORS,
    finish: Callable[..., None] = finish_job,
) -> J:
    """Do the claimed job's work and record how it ended; return the job.

    work returns the fields to write with the finish (or None): the job is then done
    (finish(job, **fields), finish_job unless given; Parked: it waits, see park_job). A
    transient error releases the job to queued and is raised again, for the task's retry.
    An expected error (the input's fault, such as an unreadable file) fails the job with
    its message and is not raised; any other error fails it and is raised again, for the
    worker's log. Losing the lease to another worker ends the work quietly: that worker
    carries the job on."""
    try:
        fields = work()
    except LeaseLost as lost:
        logger.warning("%s: stopped, %s", job, lost)
        job.refresh_from_db()
        return job
    except Parked:
        return job
    except transient:
        release_job(job)
        raise
    except expected as error:
        fail_job(job, job.failure_message(error))
        return job
    except Exception as error:
        fail_job(job, job.failure_message(error))
        raise
    finish(job, **(fields or {}))
    return job


def requeue_expired(model: type[Job], task: Enqueueable) -> list[int]:
    """Beat, every minute: hand out again each running job whose lease ran out (its worker
    died), or fail it once it was claimed FEEDLENS_JOB_MAX_ATTEMPTS times, and each job
    still queued a lease after it was sent (its message lost: the broker restarted
    empty, or the web process died before sending it); return the ids handed out again."""
    now = timezone.now()
    resent = _resend_unclaimed(model, task, now - lease_duration())
    expired = (
        model._default_manager.filter(status=JobStatus.RUNNING)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .exclude(model.waiting_on_others)
    )
    requeued = []
    for job in expired.only("pk", "attempts", "lease_token"):
        # Conditional on the token read: a worker that claims it meanwhile keeps it.
        rows = model._default_manager.filter(
            pk=job.pk, status=JobStatus.RUNNING, lease_token=job.lease_token
        )
        if job.attempts >= settings.FEEDLENS_JOB_MAX_ATTEMPTS:
            rows.update(
                status=JobStatus.FAILED,
                error=(
                    f"Its worker stopped answering {job.attempts} times (no heartbeat for "
                    f"{settings.FEEDLENS_JOB_LEASE_SECONDS} s), most often a process the "
                    "system ended for lack of memory; start it again once the workers are "
                    "healthy."
                ),
                finished_at=now,
                lease_expires_at=None,
            )
        elif rows.update(status=JobStatus.QUEUED, lease_expires_at=None, task_id=""):
            hand_out_on_commit(task, job)
            requeued.append(job.pk)
    return resent + requeued


def _resend_unclaimed(model: type[Job], task: Enqueueable, before: datetime) -> list[int]:
    """Hand out again the queued jobs last handed out (or made) before that moment. A message
    still on its way is then sent twice, which is safe: the second claim finds the job taken
    or finished and does nothing."""
    unclaimed = (
        model._default_manager.filter(status=JobStatus.QUEUED)
        .annotate(last_handed_out=Coalesce("handed_out_at", "created_at"))
        .filter(last_handed_out__lt=before)
    )
    resent = []
    for job in unclaimed.only("pk"):
        hand_out_on_commit(task, job)
        resent.append(job.pk)
    return resent


def job_status_response(jobs: "models.QuerySet[J]", job_id: int) -> JsonResponse:
    """Return the job's status as JSON (Job.status_payload), for job_progress.js to poll."""
    return JsonResponse(get_object_or_404(jobs, pk=job_id).status_payload())
