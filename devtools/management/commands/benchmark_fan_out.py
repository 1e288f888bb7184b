"""python manage.py benchmark_fan_out --items 20000 [--workers 1 --workers 2]: one analysis
run of the same items on 1 and on N Celery worker processes, each held to a core of its
own (devtools.benchmark.fan_out); a table under var/bench/."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from devtools.benchmark.database import BenchmarkDatabaseError, bench_database_name, drop_database
from devtools.benchmark.fan_out import FanOutRun, measure_fan_out
from devtools.benchmark.pipeline import PipelineError, bar_observer
from devtools.benchmark.report import write_report
from devtools.benchmark.synthetic import read_source_texts
from devtools.benchmark.worker import WorkerError
from devtools.evaluation.report import Section, text_table
from insights.pipeline.run import CHUNKED_STAGES, STAGES


class Command(BaseCommand):
    help = (
        "Analyse the same N synthetic items on 1 and on more Celery worker processes, one "
        "core each; time each stage and check that every chunk was done once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--items", type=int, default=20_000)
        parser.add_argument(
            "--workers", type=int, action="append", help="worker processes (default 1 and 2)"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        counts = options["workers"] or [1, 2]
        if options["items"] < 100 or min(counts) < 1:
            raise CommandError("--items must be at least 100 and --workers at least 1.")
        out_dir = Path(settings.VAR_DIR) / "bench"
        sources = read_source_texts(Path(settings.FEEDLENS_DATASETS_DIR))
        try:
            bench_database_name()
            with tqdm(desc="fan-out") as bar:
                show = bar_observer(bar, "fan-out")
                runs = measure_fan_out(options["items"], counts, sources, out_dir, show)
        except (BenchmarkDatabaseError, PipelineError, WorkerError) as error:
            raise CommandError(str(error)) from error
        finally:
            drop_database()
        section = fan_out_section(runs, options["items"])
        self.stdout.write("\n" + text_table(section))
        paths = write_report(
            [section],
            {"items": options["items"], "workers": counts},
            out_dir,
            name=f"fan-out-{options['items']}",
        )
        self.stdout.write(f"\nWritten: {', '.join(map(str, paths))}")


def fan_out_section(runs: list[FanOutRun], items: int) -> Section:
    base = runs[0]
    rows = []
    for run in runs:
        row: dict[str, object] = {"workers": run.workers, "import s": run.import_seconds}
        row |= {f"{stage} s": run.stage_seconds[stage] for stage in STAGES}
        for stage in CHUNKED_STAGES:
            span = run.chunk_seconds.get(stage, 0.0)
            row[f"{stage} chunks s"] = span
            row[f"{stage} speed-up"] = (
                round(base.chunk_seconds[stage] / span, 2)
                if span and stage in base.chunk_seconds
                else None
            )
            row[f"{stage} items/worker-s"] = run.items_per_worker_second[stage]
        row["end to end s"] = run.end_to_end_seconds
        row["worker peaks GiB"] = " / ".join(
            f"{peak / 2**30:.2f}" if peak else "?" for peak in run.worker_peaks
        )
        row["chunks"], row["claims"] = run.chunks, run.claims
        row |= _compared(run, base)
        rows.append(row)
    return Section(
        "fan_out",
        f"One analysis run of {items:,} items on 1 and on more workers",
        tuple(rows[0]),
        rows,
        [
            "Each worker a Celery process, solo pool, held to one core (its models use one "
            "thread); a fresh database per run. End to end runs from queuing the import to "
            "the finished run; worker peaks are each process's peak resident memory (VmHWM). "
            "Stage seconds from the run's stats; a "
            "chunked stage's 'chunks s' runs from its first chunk claimed to its last done, "
            "and its speed-up is the first row's over this row's.",
            "claims = chunks when no chunk was done twice. Against the first row: the share "
            "of items with the same predicted sentiment, and the largest difference of the "
            "language model's raw scores of an item scored in both.",
            "Target (issue 21): speed-up >= 0.8 N for the fanned-out stages.",
        ],
    )


def _compared(run: FanOutRun, base: FanOutRun) -> dict[str, object]:
    same = sum(run.labels.get(key) == label for key, label in base.labels.items())
    both = set(run.scores) & set(base.scores)
    gaps = [
        max(abs(a - b) for a, b in zip(run.scores[key], base.scores[key], strict=True))
        for key in both
    ]
    return {
        "same sentiment": round(same / len(base.labels), 4) if base.labels else None,
        "items scored in both": f"{len(both)} of {len(base.scores)}",
        "largest score difference": max(gaps, default=0.0),
    }
