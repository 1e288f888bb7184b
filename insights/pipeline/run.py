"""One analysis run: embed, index for search, score sentiment, theme and describe, recording
progress as it goes.

The run is a database row; the web app and `manage.py analyze` create it, a worker (or the
command itself) carries it out, and the pages poll its stage and counts. Every stage skips
work already done, so a run that is interrupted and started again finishes the job without
doing anything twice.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from accounts.people import signed_in_person
from feedlens.jobs import OPEN, carry_out, claim_job, heartbeat
from ingestion.models import FeedbackItem
from insights.local_models import configured_embedder, configured_llm
from insights.models import AnalysisRun, Theme
from insights.pipeline.describing.describe import describe_themes
from insights.pipeline.embedding import embed_pending
from insights.pipeline.search_index import write_search_index
from insights.pipeline.sentiment.stage import analyse_sentiment, read_pending_theme_sentiments
from insights.pipeline.themes.identity import (
    assign_new_items,
    needs_recluster,
    recluster,
    theme_leftovers,
)

logger = logging.getLogger(__name__)

STAGES = ("embedding", "indexing", "sentiment", "themes", "describing")
# Progress is written at most this often: each write is a database round trip.
PROGRESS_INTERVAL_S = 0.5

Progress = Callable[[int, int], None]
StageProgress = Callable[[str, int, int], None]


class RunInProgress(Exception):
    """A run is queued or running already: one runs at a time (AnalysisRun's constraint)."""

    def __init__(self, run: AnalysisRun | None) -> None:
        self.run = run
        which = (
            f"Analysis run {run.pk} is {run.get_status_display().lower()}"
            if run
            else ("Another analysis run is open")
        )
        super().__init__(f"{which}: one run at a time, and it will take in what is new.")


def new_run(
    *,
    source_id: int | None = None,
    recluster: bool = False,
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> AnalysisRun:
    """Return a new queued run (insights.jobs.start_analysis hands it to a worker); raise
    RunInProgress while another is queued or running, whoever started it."""
    try:
        with transaction.atomic():
            return AnalysisRun.objects.create(
                source_id=source_id,
                recluster=recluster,
                created_by=signed_in_person(user),
            )
    except IntegrityError as error:
        open_run = AnalysisRun.objects.filter(status__in=OPEN).first()
        raise RunInProgress(open_run) from error


def run_analysis(
    run_id: int, observer: StageProgress | None = None, *, task_id: str = ""
) -> AnalysisRun:
    """Carry out a run; return it finished. A finished run, or one another worker holds
    (feedlens.jobs.claim_job), is left as it is; a run that was interrupted (its worker
    killed) starts its stages again, which skip what is done. observer(stage, done, total),
    if given, hears every progress step (the command's bar)."""
    run = claim_job(AnalysisRun, run_id, task_id=task_id)
    if run is None:
        return AnalysisRun.objects.get(pk=run_id)
    return carry_out(run, partial(_run_stages, run, observer))


def _run_stages(run: AnalysisRun, observer: StageProgress | None) -> None:
    for stage in STAGES:
        _run_stage(run, stage, observer)


def _run_stage(run: AnalysisRun, stage: str, observer: StageProgress | None) -> None:
    heartbeat(run, stage=stage, done=0, total=0)
    started = time.monotonic()
    outcome = STAGE_FUNCTIONS[stage](run, _progress_writer(run, stage, observer))
    figures: dict[str, int | float | str] = {
        "items": outcome.items,
        "seconds": round(time.monotonic() - started, 2),
    }
    if outcome.note:
        figures["note"] = outcome.note
    heartbeat(run, stats={**run.stats, stage: figures}, done=run.done, total=run.total)
    logger.info("analysis run %s: %s done, %s items", run.pk, stage, outcome.items)


def _progress_writer(run: AnalysisRun, stage: str, observer: StageProgress | None) -> Progress:
    last_write = 0.0

    def write(done: int, total: int) -> None:
        nonlocal last_write
        run.done, run.total = done, total
        if observer:
            observer(stage, done, total)
        if time.monotonic() - last_write >= PROGRESS_INTERVAL_S or done >= total:
            heartbeat(run, done=done, total=total)  # progress, and the lease renewed
            last_write = time.monotonic()

    return write


def _run_items(run: AnalysisRun) -> QuerySet[FeedbackItem]:
    items = FeedbackItem.objects.all()
    return items.filter(source_id=run.source_id) if run.source_id else items


# The stages below are where the run resolves its models from the settings (each loaded
# once per process) and hands them to the pipeline, which takes them as parameters.


@dataclass(frozen=True)
class StageOutcome:
    items: int  # the items the stage did its work on
    note: str = ""  # what else it did, for the run page


def _embed(run: AnalysisRun, progress: Progress) -> StageOutcome:
    return StageOutcome(embed_pending(configured_embedder(), run.source_id, on_progress=progress))


def _index(run: AnalysisRun, progress: Progress) -> StageOutcome:
    """Write a new version of the shared search index (large installs only)."""
    model = configured_embedder().name
    indexed = write_search_index(model, on_progress=progress)
    if not indexed:
        return StageOutcome(0, "search is exact at this size: no index file")
    return StageOutcome(indexed, f"search index of {indexed:,} items written")


def _sentiment(run: AnalysisRun, progress: Progress) -> StageOutcome:
    items = _run_items(run)
    llm, embedder = configured_llm(), configured_embedder()
    return StageOutcome(analyse_sentiment(items, llm, embedder, on_progress=progress))


def _themes(run: AnalysisRun, progress: Progress) -> StageOutcome:
    """Re-cluster when asked or when there are no themes yet; otherwise new items join the
    nearest theme, and those that fit none are clustered among themselves into new themes.
    Themes span every source of a project, so a re-cluster always takes every item (each
    project's apart)."""
    model = configured_embedder().name
    if run.recluster or needs_recluster(model):
        result = recluster(model, on_progress=progress)
        outcome = StageOutcome(result.items_assigned, result.describe())
    else:
        joined = assign_new_items(model, on_progress=progress)
        leftovers = theme_leftovers(model, on_progress=progress)
        outcome = StageOutcome(joined + leftovers.assigned, leftovers.describe())
    # The sentiment stage read the units before they were in these themes.
    read_pending_theme_sentiments()
    return outcome


def _describe(run: AnalysisRun, progress: Progress) -> StageOutcome:
    embedder = configured_embedder()
    theme_ids = list(Theme.objects.live(embedder.name).values_list("pk", flat=True))
    described = describe_themes(theme_ids, configured_llm(), embedder, on_progress=progress)
    return StageOutcome(described)


STAGE_FUNCTIONS: dict[str, Callable[[AnalysisRun, Progress], StageOutcome]] = {
    "embedding": _embed,
    "indexing": _index,
    "sentiment": _sentiment,
    "themes": _themes,
    "describing": _describe,
}


def new_scheduled_run(*, recluster: bool) -> AnalysisRun | None:
    """Return a new queued run for the schedule, or None while one is queued or running
    (runs are long and beat fires every few minutes)."""
    try:
        return new_run(recluster=recluster)
    except RunInProgress:
        return None
