"""python manage.py benchmark --items 1000 [--items 10000] [--keep-db]: the speed benchmark
on PostgreSQL with a real Celery worker, one fresh database per size; prints a table per
size and writes them under var/bench/ (see insights/benchmark/)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from devtools.benchmark.database import BenchmarkDatabaseError, bench_database_name, drop_database
from devtools.benchmark.pages import PageError
from devtools.benchmark.pipeline import PipelineError, bar_observer
from devtools.benchmark.report import sections_for, write_report
from devtools.benchmark.runner import BenchmarkConfig, run_pages_only, run_size
from devtools.benchmark.synthetic import read_source_texts
from devtools.benchmark.worker import WorkerError
from devtools.evaluation.datasets import DatasetError
from devtools.evaluation.report import Section, text_table

BENCHMARK_ERRORS = (
    BenchmarkDatabaseError,
    DatasetError,
    PageError,
    PipelineError,
    WorkerError,
)


class Command(BaseCommand):
    help = (
        "Import and analyse N synthetic items on PostgreSQL through a real Celery worker; "
        "time each stage, theme discovery against BERTopic and the dashboard pages."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--items", type=int, action="append", help="items per size (repeatable; default 1000)"
        )
        parser.add_argument(
            "--keep-db", action="store_true", help="leave the last size's database in place"
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
        parser.add_argument(
            "--pages-only",
            action="store_true",
            help="store the items with synthetic analysis rows and time only the pages",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sizes = options["items"] or [1000]
        if any(size < 1 for size in sizes):
            raise CommandError("--items must be positive.")
        config = BenchmarkConfig(out_dir=Path(settings.VAR_DIR) / "bench", seed=options["seed"])
        try:
            bench_database_name()  # refuse before building anything, and before dropping
        except BenchmarkDatabaseError as error:
            raise CommandError(str(error)) from error
        try:
            sections = self._run_sizes(sizes, config, options["pages_only"])
        except BENCHMARK_ERRORS as error:
            raise CommandError(str(error)) from error
        finally:
            if not options["keep_db"]:
                drop_database()
        run: dict[str, object] = {
            "sizes": ", ".join(f"{size:,}" for size in sizes),
            "worker": "none (pages only)"
            if options["pages_only"]
            else "one Celery worker, solo pool, PostgreSQL + Redis",
            "SENTIMENT_LLM_CALLS_PER_RUN": settings.SENTIMENT_LLM_CALLS_PER_RUN,
            "LLM_N_GPU_LAYERS": settings.LLM_N_GPU_LAYERS,
        }
        name = "pages" if options["pages_only"] else "bench"
        paths = write_report(sections, run, config.out_dir, name=name)
        self.stdout.write(f"\nWritten: {', '.join(map(str, paths))}")

    def _run_sizes(
        self, sizes: list[int], config: BenchmarkConfig, pages_only: bool
    ) -> list[Section]:
        sources = read_source_texts(Path(settings.FEEDLENS_DATASETS_DIR))
        sections: list[Section] = []
        for size in sizes:
            with tqdm(desc=f"{size:,} items") as bar:
                run = run_pages_only if pages_only else run_size
                result = run(size, sources, config, bar_observer(bar, f"{size:,} items"))
            for section in sections_for(result):
                self.stdout.write("\n" + text_table(section))
                sections.append(section)
        return sections
