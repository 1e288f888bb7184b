"""Import a synthetic file and analyse it through the benchmark's worker, timing each
stage: the import as an ImportJob, the analysis as one AnalysisRun (re-clustering all the
items, or only assigning new ones to the stored themes)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from devtools.benchmark.worker import BenchWorker
from ingestion.jobs import create_import_job, queue_import
from ingestion.models import DataSource, ImportJob, ImportStatus, ItemKind
from ingestion.normalise import ColumnMapping
from insights.jobs import start_analysis
from insights.models import AnalysisRun, RunStatus
from insights.pipeline.run import STAGES

# Stage, done, total: what the command's progress bar shows.
Observer = Callable[[str, int, int], None]
MAPPING = ColumnMapping(text="text", created_at="date", external_id="id", metadata=("dataset",))
POLL_INTERVAL_S = 0.5
# Generous: 100,000 items take tens of minutes on two cores.
STAGE_TIMEOUT_S = 4 * 3600
SOURCE_NAME = "Benchmark feedback"


class PipelineError(RuntimeError):
    """The import or the analysis failed or did not finish in time."""


@dataclass
class PipelineTimings:
    items: int
    stage_seconds: dict[str, float] = field(default_factory=dict)  # import + analysis stages
    stage_items: dict[str, int] = field(default_factory=dict)
    end_to_end_seconds: float = 0.0  # from queuing the import to the finished run


def _wait_for(
    fetch: Callable[[], tuple[bool, str, int, int]], worker: BenchWorker, observe: Observer
) -> None:
    """Poll fetch() -> (finished, stage, done, total) until finished, telling observe."""
    deadline = time.monotonic() + STAGE_TIMEOUT_S
    while time.monotonic() < deadline:
        finished, stage, done, total = fetch()
        observe(stage, done, total)
        if finished:
            return
        worker.check_alive()
        time.sleep(POLL_INTERVAL_S)
    raise PipelineError(f"Gave up waiting after {STAGE_TIMEOUT_S} s.")


def import_file(path: Path, rows: int, worker: BenchWorker, observe: Observer) -> ImportJob:
    """Import the synthetic CSV into the benchmark's source on the worker; return the
    finished job."""
    source, _ = DataSource.objects.get_or_create(
        name=SOURCE_NAME, defaults={"item_kind": ItemKind.REVIEW}
    )
    job = create_import_job(source, path, original_name=path.name, item_kind=ItemKind.REVIEW)
    queue_import(job, MAPPING)

    def fetch() -> tuple[bool, str, int, int]:
        job.refresh_from_db()
        finished = job.status in (ImportStatus.DONE, ImportStatus.FAILED)
        return finished, "import", int(job.rows_done), rows

    _wait_for(fetch, worker, observe)
    if job.status == ImportStatus.FAILED or job.items_created != rows:
        raise PipelineError(
            f"The import ended {job.status} with {job.items_created} of {rows} items: "
            f"{job.error or job.row_errors[:3]}"
        )
    return job


def analyse(worker: BenchWorker, observe: Observer, recluster: bool) -> AnalysisRun:
    """Run one analysis on the worker; return the finished run. With recluster, every item
    is clustered again; without, new items join the nearest stored theme."""
    run = start_analysis(recluster=recluster)

    def fetch() -> tuple[bool, str, int, int]:
        run.refresh_from_db()
        finished = run.status in (RunStatus.DONE, RunStatus.FAILED)
        return finished, run.stage or "queued", run.done, run.total

    _wait_for(fetch, worker, observe)
    if run.status == RunStatus.FAILED:
        raise PipelineError(f"The analysis run failed: {run.error}")
    return run


def run_pipeline(
    path: Path, rows: int, worker: BenchWorker, observe: Observer, recluster: bool = True
) -> PipelineTimings:
    """Import then analyse through the worker; return the time and items of each stage."""
    began = time.monotonic()
    job = import_file(path, rows, worker, observe)
    run = analyse(worker, observe, recluster)
    timings = PipelineTimings(items=rows, end_to_end_seconds=time.monotonic() - began)
    if job.started_at and job.finished_at:
        timings.stage_seconds["import"] = (job.finished_at - job.started_at).total_seconds()
    timings.stage_items["import"] = int(job.items_created)
    for stage in STAGES:
        timings.stage_seconds[stage] = float(run.stats[stage]["seconds"])
        timings.stage_items[stage] = int(run.stats[stage]["items"])
    return timings


def bar_observer(bar: tqdm, label: str) -> Observer:
    """Return an observer that shows each stage's progress on bar, restarting it per stage."""
    shown = {"stage": ""}

    def show(stage: str, done: int, total: int) -> None:
        if stage != shown["stage"]:
            shown["stage"] = stage
            bar.set_description(f"{label}: {stage}")
            bar.reset(total=total or None)
        bar.total = total or bar.total
        bar.update(done - bar.n)

    return show
