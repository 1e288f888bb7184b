"""One analysis run fanned out over 1 and over N worker processes (issue 21): the same
items, a fresh database each time, each worker held to a core of its own (one thread for
its models), so that the speed-up of the chunked stages on N machines can be read off.

Every chunk must be done once (one claim each), and the chunked stages' results must be
the same whatever the number of workers: the embeddings, the language model's scores and
the sentiment predicted from them. Themes are not compared: UMAP is seeded per run.
"""

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Max, Min
from django.utils import timezone

from devtools.benchmark.database import reset_database
from devtools.benchmark.pipeline import Observer, analyse, import_file
from devtools.benchmark.synthetic import SourceText, synthetic_rows, write_csv
from devtools.benchmark.worker import BenchWorker, start_worker
from insights.models import AnalysisRun, ItemSentiment, RunChunk
from insights.pipeline.run import CHUNKED_STAGES, STAGES


@dataclass(frozen=True)
class FanOutRun:
    workers: int
    stage_seconds: dict[str, float]  # from the run's stats (a chunked stage's finish included)
    chunk_seconds: dict[str, float]  # first chunk claimed to last chunk done, per chunked stage
    chunks: int
    claims: int  # one per chunk when none was done twice
    items_per_worker_second: dict[str, float]  # per chunked stage: items / busy worker seconds
    import_seconds: float  # the file's import, on the first worker
    end_to_end_seconds: float  # from queuing the import to the finished run
    worker_peaks: list[int | None]  # each worker's peak resident memory (VmHWM), bytes
    labels: dict[str, str]  # per item (its file id): its predicted sentiment
    scores: dict[str, list[float]]  # per item scored by the language model: its raw scores


def measure_fan_out(
    items: int,
    worker_counts: Sequence[int],
    sources: list[SourceText],
    out_dir: Path,
    observe: Observer,
    seed: int = 0,
) -> list[FanOutRun]:
    """Import the same synthetic items and analyse them once per worker count."""
    rows = synthetic_rows(sources, items, timezone.now(), seed=seed)
    path = write_csv(rows, out_dir / "data" / f"fan-out-{items}.csv")
    return [_one_run(path, items, count, out_dir, observe) for count in worker_counts]


def _one_run(path: Path, items: int, count: int, out_dir: Path, observe: Observer) -> FanOutRun:
    reset_database()
    cores = sorted(os.sched_getaffinity(0))
    workers: list[BenchWorker] = []
    try:
        for number in range(count):
            log = out_dir / f"fan-out-{count}-worker-{number}.log"
            workers.append(start_worker(log, name=f"w{number}", cpu=cores[number % len(cores)]))
        began = time.monotonic()
        job = import_file(path, items, workers[0], observe)
        run = analyse(workers[0], observe, recluster=True)
        end_to_end = time.monotonic() - began
        peaks = [worker.peak_memory_bytes() for worker in workers]
    finally:
        for worker in workers:
            worker.stop()
    imported = 0.0
    if job.started_at and job.finished_at:
        imported = (job.finished_at - job.started_at).total_seconds()
    return _measured(run, count, imported, end_to_end, peaks)


def _measured(
    run: AnalysisRun,
    count: int,
    import_seconds: float,
    end_to_end_seconds: float,
    worker_peaks: list[int | None],
) -> FanOutRun:
    chunks = RunChunk.objects.filter(run=run)
    span, throughput = {}, {}
    for stage in CHUNKED_STAGES:
        of_stage = chunks.filter(stage=stage)
        times = of_stage.aggregate(first=Min("started_at"), last=Max("finished_at"))
        if times["first"] and times["last"]:
            span[stage] = round((times["last"] - times["first"]).total_seconds(), 1)
        spans = of_stage.values_list("started_at", "finished_at")
        busy = sum((end - start).total_seconds() for start, end in spans if start and end)
        done = sum(of_stage.values_list("items", flat=True))
        throughput[stage] = round(done / busy, 2) if busy else 0.0
    sentiments = list(
        ItemSentiment.objects.values_list("item__external_id", "predicted", "llm_scores")
    )
    return FanOutRun(
        workers=count,
        stage_seconds={stage: float(run.stats[stage]["seconds"]) for stage in STAGES},
        chunk_seconds=span,
        chunks=chunks.count(),
        claims=sum(chunks.values_list("attempts", flat=True)),
        items_per_worker_second=throughput,
        import_seconds=round(import_seconds, 1),
        end_to_end_seconds=round(end_to_end_seconds, 1),
        worker_peaks=worker_peaks,
        labels={key: label for key, label, _ in sentiments},
        scores={
            key: [v for _, v in sorted(scores.items())] for key, _, scores in sentiments if scores
        },
    )
