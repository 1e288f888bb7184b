"""One analysis run: embed, score sentiment, theme and describe, recording progress as it goes.

The run is a database row; the web app and `manage.py analyze` create it, a worker (or the
command itself) carries it out, and the pages poll its stage and counts. Every stage skips
work already done, so a run that is interrupted and started again finishes the job without
doing anything twice.
"""

import logging
import time
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ingestion.models import FeedbackItem
from insights.local_models import configured_embedder
from insights.models import AnalysisRun, RunStatus
from insights.pipeline.describing.describe import describe_themes
from insights.pipeline.embedding import embed_pending
from insights.pipeline.sentiment.stage import analyse_sentiment
from insights.pipeline.themes.identity import (
    assign_new_items,
    live_themes,
    needs_recluster,
    recluster,
)

logger = logging.getLogger(__name__)

STAGES = ("embedding", "sentiment", "themes", "describing")
# Progress is written at most this often: each write is a database round trip.
PROGRESS_INTERVAL_S = 0.5

Progress = Callable[[int, int], None]
StageProgress = Callable[[str, int, int], None]


def start_analysis(
    *, source_id: int | None = None, recluster: bool = False, user: AbstractBaseUser | None = None
) -> AnalysisRun:
    """Create a run and hand it to a worker once the transaction commits."""
    from insights.tasks import run_analysis_task

    run = AnalysisRun.objects.create(
        source_id=source_id,
        recluster=recluster,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    transaction.on_commit(lambda: run_analysis_task.delay(run.pk))
    return run


def run_analysis(run_id: int, observer: StageProgress | None = None) -> AnalysisRun:
    """Carry out a run; return it finished. A finished run is left as it is; a run that
    was interrupted (its worker killed) starts its stages again, which skip what is done.
    observer(stage, done, total), if given, hears every progress step (the command's bar)."""
    claimed = AnalysisRun.objects.filter(
        pk=run_id, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
    ).update(status=RunStatus.RUNNING, started_at=timezone.now(), error="")
    run = AnalysisRun.objects.get(pk=run_id)
    if not claimed:
        return run
    try:
        for stage in STAGES:
            _run_stage(run, stage, observer)
    except Exception as error:
        _finish(run, RunStatus.FAILED, f"{run.stage}: {error}")
        raise
    _finish(run, RunStatus.DONE)
    return run


def _run_stage(run: AnalysisRun, stage: str, observer: StageProgress | None) -> None:
    run.stage, run.done, run.total = stage, 0, 0
    run.save(update_fields=["stage", "done", "total"])
    started = time.monotonic()
    items = STAGE_FUNCTIONS[stage](run, _progress_writer(run, stage, observer))
    run.stats[stage] = {"items": items, "seconds": round(time.monotonic() - started, 2)}
    run.save(update_fields=["stats", "done", "total"])
    logger.info("analysis run %s: %s done, %s items", run.pk, stage, items)


def _progress_writer(run: AnalysisRun, stage: str, observer: StageProgress | None) -> Progress:
    last_write = 0.0

    def write(done: int, total: int) -> None:
        nonlocal last_write
        run.done, run.total = done, total
        if observer:
            observer(stage, done, total)
        if time.monotonic() - last_write >= PROGRESS_INTERVAL_S or done >= total:
            AnalysisRun.objects.filter(pk=run.pk).update(done=done, total=total)
            last_write = time.monotonic()

    return write


def _finish(run: AnalysisRun, status: str, error: str = "") -> None:
    run.status, run.error, run.finished_at = status, error[:2000], timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])


def _run_items(run: AnalysisRun) -> QuerySet[FeedbackItem]:
    items = FeedbackItem.objects.all()
    return items.filter(source_id=run.source_id) if run.source_id else items


def _embed(run: AnalysisRun, progress: Progress) -> int:
    return embed_pending(run.source_id, on_progress=progress)


def _sentiment(run: AnalysisRun, progress: Progress) -> int:
    return analyse_sentiment(_run_items(run), on_progress=progress)


def _themes(run: AnalysisRun, progress: Progress) -> int:
    """Re-cluster when asked or when there are no themes yet; otherwise new items join the
    nearest theme. Themes span every source, so a re-cluster always takes every item."""
    model = configured_embedder().name
    if run.recluster or needs_recluster(model):
        return recluster(model, on_progress=progress).items_assigned
    return assign_new_items(model, on_progress=progress)


def _describe(run: AnalysisRun, progress: Progress) -> int:
    theme_ids = list(live_themes(configured_embedder().name).values_list("pk", flat=True))
    return describe_themes(theme_ids, on_progress=progress)


STAGE_FUNCTIONS: dict[str, Callable[[AnalysisRun, Progress], int]] = {
    "embedding": _embed,
    "sentiment": _sentiment,
    "themes": _themes,
    "describing": _describe,
}


def start_scheduled_run(*, recluster: bool) -> int | None:
    """Start a run for the schedule unless one is queued or running; return its id."""
    # Runs are long and beat fires every few minutes: never pile them up. (Two runs at once
    # would be safe, only wasteful: every stage skips what is done.)
    if AnalysisRun.objects.filter(status__in=(RunStatus.QUEUED, RunStatus.RUNNING)).exists():
        return None
    with transaction.atomic():
        return start_analysis(recluster=recluster).pk
