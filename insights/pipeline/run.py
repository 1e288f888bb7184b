"""One analysis run: embed, index for search, score sentiment, theme and describe, recording
progress as it goes.

The run is a database row; the web app and `manage.py analyze` create it, a worker (or the
command itself) carries it out, and the pages poll its stage and counts. Every stage skips
work already done, so a run that is interrupted and started again finishes the job without
doing anything twice.

Embedding, the language model's scoring, predicting, assigning and placing are done in
chunks of items (RunChunk, sized by the FEEDLENS_*_CHUNK_ITEMS settings), describing in one
chunk per theme. On workers, the run hands its chunks to the stage's queue, where any number of
workers on any number of machines take them, and waits with no lease of its own; the
worker that finishes the last chunk hands the run on (advance_run), which goes on with the
stage's finish and the next stages.
Carried out in one process (the command, tests, eager tasks), the run does its chunks
itself, one after another, through the same code.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.people import signed_in_person
from feedlens.jobs import (
    OPEN,
    JobStatus,
    Parked,
    carry_out,
    claim_job,
    finish_job,
    heartbeat,
    park_job,
)
from ingestion.models import FeedbackItem
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.local_models import configured_embedder, configured_llm
from insights.models import AnalysisRun, RunChunk, Theme
from insights.pipeline.describing.describe import (
    describe_theme,
    plan_describing,
    settle_names,
)
from insights.pipeline.embedding import embed_in_batches, pending_embedding
from insights.pipeline.search_index import write_search_index
from insights.pipeline.sentiment.stage import (
    fit_due_classifiers,
    items_to_predict,
    items_to_score,
    predict_items,
    read_pending_theme_sentiments,
    score_with_llm,
)
from insights.pipeline.themes.identity import (
    assign_items,
    cluster_again,
    items_to_assign,
    needs_recluster,
    theme_leftovers,
)
from insights.signals import themes_counted

logger = logging.getLogger(__name__)

STAGES = (
    "embedding",
    "indexing",
    "sentiment",
    "predicting",
    "assigning",
    "themes",
    "placing",
    "describing",
)
# Progress is written at most this often: each write is a database round trip.
PROGRESS_INTERVAL_S = 0.5

Progress = Callable[[int, int], None]
StageProgress = Callable[[str, int, int], None]
# Sends a chunk to a worker of its stage's queue (insights.tasks.hand_out_chunk).
HandOut = Callable[[RunChunk], None]


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
    run_id: int,
    observer: StageProgress | None = None,
    *,
    task_id: str = "",
    hand_out: HandOut | None = None,
) -> AnalysisRun:
    """Carry out a run; return it finished, or waiting on its chunks when hand_out is given
    (which sends each chunk to a worker; without it the chunks are done here). A finished
    run, or one another worker holds (feedlens.jobs.claim_job), is left as it is; a run
    that was interrupted (its worker killed) goes on from the stage it was in, which skips
    what is done. observer(stage, done, total), if given, hears every progress step (the
    command's bar)."""
    run = claim_job(AnalysisRun, run_id, task_id=task_id)
    if run is None:
        return AnalysisRun.objects.get(pk=run_id)
    return carry_out(run, partial(_run_stages, run, observer, hand_out))


def advance_run(run_id: int, *, task_id: str = "", hand_out: HandOut | None = None) -> AnalysisRun:
    """Take a run whose chunks are all done on to the rest of its stages (as run_analysis);
    return it. Sent by the worker that finished the last chunk; the run is left as it is
    when another took it on already."""
    run = claim_job(
        AnalysisRun,
        run_id,
        task_id=task_id,
        # Not a new attempt: the run goes on as planned.
        reset={"attempts": F("attempts"), "started_at": F("started_at")},
        only_if=Q(chunks_left=0),
    )
    if run is None:
        return AnalysisRun.objects.get(pk=run_id)
    return carry_out(run, partial(_run_stages, run, None, hand_out))


def _run_stages(run: AnalysisRun, observer: StageProgress | None, hand_out: HandOut | None) -> None:
    # A run taken on again goes on from the stage it was in.
    first = STAGES.index(run.stage) if run.stage in STAGES else 0
    for stage in STAGES[first:]:
        if stage not in run.stats:
            _run_stage(run, stage, observer, hand_out)


def _run_stage(
    run: AnalysisRun, stage: str, observer: StageProgress | None, hand_out: HandOut | None
) -> None:
    progress = _progress_writer(run, stage, observer)
    if stage in CHUNKED_STAGES:
        outcome = _run_chunked(run, stage, progress, hand_out)
    else:
        heartbeat(run, stage=stage, done=0, total=0, stage_started_at=timezone.now())
        outcome = STAGE_FUNCTIONS[stage](run, progress)
    started = run.stage_started_at or timezone.now()
    figures: dict[str, int | float | str] = {
        "items": outcome.items,
        "seconds": round((timezone.now() - started).total_seconds(), 2),
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


@dataclass(frozen=True)
class ChunkedStage:
    """A stage done in chunks of items (or themes), each by whichever worker takes it."""

    # What it works on, in the chunks' order (what all of them need is prepared here).
    items: Callable[[AnalysisRun], list[int]]
    chunk_items: Callable[[], int]  # items a chunk (a setting)
    work: Callable[[RunChunk], int]  # one chunk's work; how many items it did it on
    # Once every chunk is done, on the worker that takes the run on; what it did, if told.
    finish: Callable[[AnalysisRun], str] | None = None


def _run_chunked(
    run: AnalysisRun, stage: str, progress: Progress, hand_out: HandOut | None
) -> "StageOutcome":
    """Plan the stage's chunks (unless it did before it was taken on again), then hand them
    out and wait (Parked), or do them here; once all are done, finish the stage."""
    chunks = run.chunks.filter(stage=stage)
    if not chunks.exists():
        _plan_chunks(run, stage)
    if run.chunks_left and hand_out is not None:
        park_job(run)
        for chunk in chunks.filter(status=JobStatus.QUEUED):
            hand_out(chunk)
        raise Parked
    for chunk_id in chunks.exclude(status=JobStatus.DONE).values_list("pk", flat=True):
        carry_out_chunk(chunk_id)
        run.refresh_from_db(fields=["done", "total", "chunks_left"])
        progress(run.done, run.total)
    if run.chunks_left:
        raise RuntimeError(f"{run.chunks_left} of its chunks were not done")
    finish = CHUNKED_STAGES[stage].finish
    note = finish(run) if finish else ""
    return StageOutcome(sum(chunks.values_list("items", flat=True)), note)


def _plan_chunks(run: AnalysisRun, stage: str) -> None:
    item_ids = CHUNKED_STAGES[stage].items(run)
    size = CHUNKED_STAGES[stage].chunk_items()
    with transaction.atomic():
        RunChunk.objects.bulk_create(
            RunChunk(run=run, stage=stage, ids=item_ids[start : start + size])
            for start in range(0, len(item_ids), size)
        )
        heartbeat(
            run,
            stage=stage,
            done=0,
            total=len(item_ids),
            chunks_left=run.chunks.filter(stage=stage).count(),
            stage_started_at=timezone.now(),
        )


def carry_out_chunk(
    chunk_id: int,
    *,
    task_id: str = "",
    worker: str = "",
    advance: Callable[[int], None] | None = None,
) -> RunChunk | None:
    """Do one chunk of an open run (unless another worker holds it, or it is done); return
    it, or None when it was not to be done here. A chunk that fails fails its run. When it
    was its stage's last, advance(run id), if given, hands the run on."""
    chunk = claim_job(
        RunChunk,
        chunk_id,
        task_id=task_id,
        reset={"worker": worker},
        only_if=Q(run__status=JobStatus.RUNNING),
    )
    this_chunk = RunChunk.objects.filter(pk=chunk_id)
    if chunk is None:
        fail_runs_of_failed_chunks(this_chunk)
        return None
    stage = CHUNKED_STAGES[chunk.stage]
    try:
        carry_out(chunk, lambda: {"items": stage.work(chunk)}, finish=_count_done)
    finally:
        fail_runs_of_failed_chunks(this_chunk)
    last = AnalysisRun.objects.filter(pk=chunk.run_id, stage=chunk.stage, chunks_left=0)
    if advance and chunk.status == JobStatus.DONE and last.exists():
        advance(chunk.run_id)
    return chunk


def _count_done(chunk: RunChunk, **fields: object) -> None:
    """Finish the chunk and count it done on its run, at once (a chunk done twice, by a
    worker that lost it and the one that took it over, counts once)."""
    with transaction.atomic():
        finish_job(chunk, **fields)
        AnalysisRun.objects.filter(pk=chunk.run_id, stage=chunk.stage).update(
            chunks_left=F("chunks_left") - 1, done=F("done") + len(chunk.ids)
        )


def fail_runs_of_failed_chunks(chunks: QuerySet[RunChunk]) -> None:
    """Fail the open run of each failed one of chunks (by its error or, as beat does, by
    its workers dying on it too often) with the chunk's error; drop the run's other chunks."""
    for chunk in chunks.filter(status=JobStatus.FAILED, run__status__in=OPEN):
        _fail_run_of(chunk)


def _fail_run_of(chunk: RunChunk) -> None:
    now = timezone.now()
    with transaction.atomic():
        open_run = AnalysisRun.objects.filter(pk=chunk.run_id, status__in=OPEN)
        if open_run.update(
            status=JobStatus.FAILED,
            error=chunk.error,
            finished_at=now,
            lease_expires_at=None,
            chunks_left=0,
        ):
            others = RunChunk.objects.filter(run_id=chunk.run_id, status__in=OPEN)
            others.update(status=JobStatus.FAILED, error="Its run failed.", finished_at=now)


@dataclass(frozen=True)
class WorkerSeen:
    """A worker that took a run's chunks lately, for the Analysis page."""

    name: str  # its Celery host name
    last_seen: datetime  # its last claim or finish of a chunk
    chunks_done: int  # in that while
    last_chunk: RunChunk


def workers_seen(since: timedelta = timedelta(days=1)) -> list[WorkerSeen]:
    """The workers that claimed or finished chunks in the last while, most recent first,
    each with its last chunk (a chunk running under a live lease is the one it is on)."""
    seen = Coalesce("finished_at", "heartbeat_at")
    recent = (
        RunChunk.objects.exclude(worker="")
        .alias(seen=seen)
        .filter(seen__gte=timezone.now() - since)
    )
    by_worker = (
        recent.order_by()
        .values("worker")
        .annotate(last_seen=Max(seen), done=Count("pk", filter=Q(status=JobStatus.DONE)))
    )
    workers = [
        WorkerSeen(
            name=row["worker"],
            last_seen=row["last_seen"],
            chunks_done=row["done"],
            last_chunk=recent.filter(worker=row["worker"]).order_by("-seen", "-pk")[0],
        )
        for row in by_worker
    ]
    return sorted(workers, key=lambda worker: worker.last_seen, reverse=True)


def _run_items(run: AnalysisRun) -> QuerySet[FeedbackItem]:
    items = FeedbackItem.objects.all()
    return items.filter(source_id=run.source_id) if run.source_id else items


# The stages below are where the run resolves its models from the settings (each loaded
# once per process) and hands them to the pipeline, which takes them as parameters.


@dataclass(frozen=True)
class StageOutcome:
    items: int  # the items the stage did its work on
    note: str = ""  # what else it did, for the run page


def _to_embed(run: AnalysisRun) -> list[int]:
    return pending_embedding(configured_embedder().name, run.source_id)


def _embed(chunk: RunChunk) -> int:
    return embed_in_batches(chunk.ids, configured_embedder())


def _index(run: AnalysisRun, progress: Progress) -> StageOutcome:
    """Write a new version of the shared search index (large installs only)."""
    model = configured_embedder().name
    indexed = write_search_index(model, on_progress=progress)
    if not indexed:
        return StageOutcome(0, "search is exact at this size: no index file")
    return StageOutcome(indexed, f"search index of {indexed:,} items written")


def _to_score(run: AnalysisRun) -> list[int]:
    return items_to_score(_run_items(run), configured_llm())


def _score(chunk: RunChunk) -> int:
    return score_with_llm(chunk.ids, configured_llm())


def _fit(run: AnalysisRun) -> str:
    fitted = fit_due_classifiers(_run_items(run), configured_llm(), configured_embedder())
    return f"{fitted} source classifier{'s' * (fitted != 1)} fitted" if fitted else ""


def _to_predict(run: AnalysisRun) -> list[int]:
    return items_to_predict(_run_items(run), configured_llm(), configured_embedder())


def _predict(chunk: RunChunk) -> int:
    return predict_items(chunk.ids, configured_llm(), configured_embedder())


def _count_sentiment(run: AnalysisRun) -> str:
    rebuild_daily_counts()  # the dashboards count the new sentiment
    return ""


def _recluster_is_due(run: AnalysisRun) -> bool:
    return run.recluster or needs_recluster(configured_embedder().name)


def _to_assign(run: AnalysisRun) -> list[int]:
    """New items join the nearest theme, unless the run clusters everything again."""
    return [] if _recluster_is_due(run) else items_to_assign(configured_embedder().name)


def _assign(chunk: RunChunk) -> int:
    return assign_items(chunk.ids, configured_embedder().name)


def _assigned(run: AnalysisRun) -> str:
    return "none: this run clusters every item again" if _recluster_is_due(run) else ""


def _themes(run: AnalysisRun, progress: Progress) -> StageOutcome:
    """Re-cluster when asked or when there are no themes yet; otherwise the new items that
    fit no theme (assigning) are clustered among themselves into new themes. Themes span
    every source of a project, so a re-cluster always takes every item (each project's
    apart); the items it leaves without a theme are placed next."""
    model = configured_embedder().name
    if _recluster_is_due(run):
        result = cluster_again(model, on_progress=progress)
        return StageOutcome(result.items_assigned, result.describe())
    leftovers = theme_leftovers(model, on_progress=progress)
    return StageOutcome(leftovers.assigned, leftovers.describe())


def _to_place(run: AnalysisRun) -> list[int]:
    """The items the themes stage left without a theme: outside a re-cluster's sample, or
    too scattered for its clusters (whose centres are not the stored themes' where
    clusters were merged or split); each joins the nearest theme if close enough."""
    return items_to_assign(configured_embedder().name)


def _placed(run: AnalysisRun) -> str:
    # The sentiment stage read the units before they were in these themes.
    read_pending_theme_sentiments()
    rebuild_daily_counts()  # the dashboards count the themes' items
    themes_counted.send(sender=AnalysisRun)  # alerts look at the weeks again
    return ""


def _to_describe(run: AnalysisRun) -> list[int]:
    """The live themes that are due to be described, each described against all of them:
    that corpus is stored once for the stage's chunks."""
    embedder = configured_embedder()
    theme_ids = Theme.objects.live(embedder.name).values_list("pk", flat=True)
    corpora = plan_describing(theme_ids, configured_llm(), embedder, run=run)
    return [theme_id for stored in corpora for theme_id in stored.described]


def _describe(chunk: RunChunk) -> int:
    # Each theme's chunk needs to know only which corpus lists it; load_corpus reads one.
    corpora = list(chunk.run.describing_corpora.only("pk", "created_at", "described"))
    llm, embedder = configured_llm(), configured_embedder()
    return sum(describe_theme(theme_id, corpora, llm, embedder) for theme_id in chunk.ids)


def _settle_names(run: AnalysisRun) -> str:
    """Part the themes described at once that chose the same name; drop the corpora."""
    corpora = list(run.describing_corpora.all())
    renamed = settle_names(corpora, configured_llm(), configured_embedder())
    run.describing_corpora.all().delete()
    return f"{renamed} named again: another theme chose the same name" if renamed else ""


# The sentiment stage's chunks are the language model's scoring; its finish fits each
# source's classifier, with which predicting's chunks predict every item from the scores.
# Describing is one chunk a theme: a theme is seconds of the language model's work.
CHUNKED_STAGES = {
    "embedding": ChunkedStage(_to_embed, lambda: settings.FEEDLENS_EMBED_CHUNK_ITEMS, _embed),
    "sentiment": ChunkedStage(_to_score, lambda: settings.FEEDLENS_SCORE_CHUNK_ITEMS, _score, _fit),
    "predicting": ChunkedStage(
        _to_predict, lambda: settings.FEEDLENS_PREDICT_CHUNK_ITEMS, _predict, _count_sentiment
    ),
    "assigning": ChunkedStage(
        _to_assign, lambda: settings.FEEDLENS_ASSIGN_CHUNK_ITEMS, _assign, _assigned
    ),
    "placing": ChunkedStage(
        _to_place, lambda: settings.FEEDLENS_ASSIGN_CHUNK_ITEMS, _assign, _placed
    ),
    "describing": ChunkedStage(_to_describe, lambda: 1, _describe, _settle_names),
}
STAGE_FUNCTIONS: dict[str, Callable[[AnalysisRun, Progress], StageOutcome]] = {
    "indexing": _index,
    "themes": _themes,
}


def new_scheduled_run(*, recluster: bool) -> AnalysisRun | None:
    """Return a new queued run for the schedule, or None while one is queued or running
    (runs are long and beat fires every few minutes)."""
    try:
        return new_run(recluster=recluster)
    except RunInProgress:
        return None
