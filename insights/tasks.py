"""Celery tasks of the insights app: thin wrappers that take ids and call plain functions.

They run on the ML queue (settings.CELERY_TASK_ROUTES), whose workers load the models. Web
pages and commands hand work to these through insights.jobs; the beat tasks below hand out
what they find themselves.
"""

from collections.abc import Callable
from functools import partial

from celery import Task, shared_task
from django.conf import settings

from feedlens.jobs import (
    JOB_TASK_RETRY,
    TRANSIENT_ERRORS,
    JobHeld,
    hand_out_on_commit,
    requeue_expired,
    send,
)
from insights.copy.writing import write_copy
from insights.local_models import configured_llm
from insights.models import AnalysisRun, CopyDraft, Report, RunChunk
from insights.pipeline.run import (
    advance_run,
    carry_out_chunk,
    fail_runs_of_failed_chunks,
    new_scheduled_run,
    run_analysis,
)
from insights.reports.archive import generate_report
from insights.reports.emails import EmailDelayed
from insights.reports.schedules import send_scheduled_report


# A database that restarts or fails over is worth waiting for; anything else is a bug to see.
# Every job task retries so (JOB_TASK_RETRY): feedlens.jobs.carry_out puts the job back to queued on
# exactly these errors (and fails it on any other), and the retry claims it again.
@shared_task(
    bind=True,
    name="insights.run_analysis",
    **JOB_TASK_RETRY,
)
def run_analysis_task(self: Task, run_id: int) -> str:
    """Carry out an analysis run, its chunks handed to workers (unless tasks run eagerly,
    in this process). Safe to run twice: a finished run is left alone, and an interrupted
    one goes on from its stage, which skips what is done."""
    return run_analysis(run_id, task_id=self.request.id or "", hand_out=_chunk_hand_out()).status


@shared_task(bind=True, name="insights.advance_run", **JOB_TASK_RETRY)
def advance_run_task(self: Task, run_id: int) -> str:
    """Take a run on from a stage whose chunks are all done. Safe to run twice: of two, one
    takes the run on and the other finds it taken."""
    return advance_run(run_id, task_id=self.request.id or "", hand_out=_chunk_hand_out()).status


# A chunk is seconds of work: its own limit, not the run's, stops one that is stuck.
CHUNK_TASK_OPTIONS = {
    "bind": True,
    "time_limit": settings.FEEDLENS_CHUNK_TIME_LIMIT,
    "soft_time_limit": max(1, settings.FEEDLENS_CHUNK_TIME_LIMIT - 30),
    **JOB_TASK_RETRY,
}


@shared_task(name="insights.embed_chunk", **CHUNK_TASK_OPTIONS)
def embed_chunk_task(self: Task, chunk_id: int) -> str:
    """Embed one chunk of a run's items (on the embedding queue)."""
    return _carry_out_chunk(self, chunk_id)


@shared_task(name="insights.score_chunk", **CHUNK_TASK_OPTIONS)
def score_chunk_task(self: Task, chunk_id: int) -> str:
    """Score one chunk of a run's items with the language model (on its queue)."""
    return _carry_out_chunk(self, chunk_id)


@shared_task(name="insights.predict_chunk", **CHUNK_TASK_OPTIONS)
def predict_chunk_task(self: Task, chunk_id: int) -> str:
    """Predict one chunk of a run's items' sentiment from the scores (on the language
    model's queue: it needs the model's identity, and its workers are free by then)."""
    return _carry_out_chunk(self, chunk_id)


@shared_task(name="insights.assign_chunk", **CHUNK_TASK_OPTIONS)
def assign_chunk_task(self: Task, chunk_id: int) -> str:
    """Join one chunk of a run's items without a theme to their nearest themes (new items,
    or those a re-cluster left: assigning and placing; on the embedding queue)."""
    return _carry_out_chunk(self, chunk_id)


@shared_task(name="insights.describe_chunk", **CHUNK_TASK_OPTIONS)
def describe_chunk_task(self: Task, chunk_id: int) -> str:
    """Describe one theme of a run with the language model (on its queue)."""
    return _carry_out_chunk(self, chunk_id)


def _carry_out_chunk(task: Task, chunk_id: int) -> str:
    """Safe to run twice: a chunk done or held by another worker is left alone."""
    chunk = carry_out_chunk(
        chunk_id,
        task_id=task.request.id or "",
        worker=task.request.hostname or "",
        advance=partial(send, advance_run_task),
    )
    return chunk.status if chunk else "not here"


class _ChunkTasks:
    """Hands a chunk to the task of its stage, and so to the stage's queue."""

    by_stage = {
        "embedding": embed_chunk_task,
        "sentiment": score_chunk_task,
        "predicting": predict_chunk_task,
        "assigning": assign_chunk_task,
        "placing": assign_chunk_task,
        "describing": describe_chunk_task,
    }

    def delay(self, chunk_id: int) -> None:
        stage = RunChunk.objects.values_list("stage", flat=True).get(pk=chunk_id)
        self.by_stage[stage].delay(chunk_id)


CHUNK_TASKS = _ChunkTasks()


def _chunk_hand_out() -> Callable[[RunChunk], None] | None:
    """How a run hands out its chunks: to workers; with eager tasks, nowhere (it does them
    itself, rather than nesting each chunk and the next stage inside the last)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    return partial(hand_out_on_commit, CHUNK_TASKS)


@shared_task(name="insights.analyse_new_items")
def analyse_new_items_task() -> int | None:
    """Beat: analyse what arrived since the last run (nothing starts while a run is open)."""
    return _start_scheduled_run(recluster=False)


@shared_task(name="insights.recluster")
def recluster_task() -> int | None:
    """Beat: cluster everything again, keeping theme identities."""
    return _start_scheduled_run(recluster=True)


def _start_scheduled_run(*, recluster: bool) -> int | None:
    run = new_scheduled_run(recluster=recluster)
    if run is None:
        return None
    hand_out_on_commit(run_analysis_task, run)
    return run.pk


@shared_task(
    bind=True,
    name="insights.write_copy",
    **JOB_TASK_RETRY,
)
def write_copy_task(self: Task, draft_id: int) -> str:
    """Write a copy draft. Safe to run twice: a finished draft is left alone, and an
    interrupted one is written again from the start."""
    return write_copy(draft_id, configured_llm(), task_id=self.request.id or "").status


# Reports need no model: settings.CELERY_TASK_ROUTES sends these two to the default queue.
@shared_task(
    bind=True,
    name="insights.generate_report",
    **JOB_TASK_RETRY,
)
def generate_report_task(self: Task, report_id: int) -> str:
    """Make an archived report's files. Safe to run twice: a finished report is left alone."""
    return generate_report(report_id, task_id=self.request.id or "").status


# Only a mail server that may take the message later is retried, from a minute to half an
# hour apart, six times (about an hour and a half in all); a refusal (a bad address, a
# wrong password) is recorded on the schedule and waits for a person to fix it. A report
# that another worker is still making (JobHeld) is waited for the same way.
@shared_task(
    name="insights.send_scheduled_report",
    autoretry_for=(EmailDelayed, JobHeld, *TRANSIENT_ERRORS),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=6,
)
def send_scheduled_report_task(schedule_id: int) -> str:
    """Beat: email a schedule's report of the last full week. Safe to run twice: a week's
    report is made once per schedule and sent once (insights.reports.schedules)."""
    return send_scheduled_report(schedule_id)


# On the default queue (settings.CELERY_TASK_ROUTES): a long analysis must not delay it.
@shared_task(name="insights.requeue_expired_jobs")
def requeue_expired_jobs_task() -> dict[str, list[int]]:
    """Beat, every minute: hand out again the runs, chunks, drafts and reports whose worker
    died (feedlens.jobs.requeue_expired), and fail the runs whose chunks failed so; return
    their ids by kind."""
    chunks = requeue_expired(RunChunk, CHUNK_TASKS)
    # A chunk failed by requeue_expired (its workers died on it) fails its run.
    fail_runs_of_failed_chunks(RunChunk.objects.all())
    return {
        "runs": requeue_expired(AnalysisRun, run_analysis_task),
        "chunks": chunks,
        "copy_drafts": requeue_expired(CopyDraft, write_copy_task),
        "reports": requeue_expired(Report, generate_report_task),
    }
