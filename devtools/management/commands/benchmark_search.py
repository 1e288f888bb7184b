"""python manage.py benchmark_search --items 100000 [--items 1000000]: the shared search
index at scale (devtools.benchmark.search_scale), a table per run under var/bench/."""

from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devtools.benchmark.report import write_report
from devtools.benchmark.search_scale import QUERIES, measure_search_scale
from devtools.evaluation.report import Section, text_table


class Command(BaseCommand):
    help = (
        "Build the shared search index over N synthetic embedding-like vectors, then time "
        f"{QUERIES} queries on the memory-mapped file and their recall@10 against exact search."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--items", type=int, action="append", help="vectors per size (default 100000)"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        sizes = options["items"] or [100_000]
        if any(size < 10 for size in sizes):
            raise CommandError("--items must be at least 10.")
        rows = []
        for size in sizes:
            self.stdout.write(f"{size:,} vectors...")
            rows.append(asdict(measure_search_scale(size, options["seed"])))
        section = Section(
            "search_scale",
            "Shared search index (usearch HNSW, float16, memory-mapped)",
            tuple(rows[0]),
            rows,
            [
                f"Median and 95th percentile of {QUERIES} queries, one at a time, on the "
                "memory-mapped file; recall@10 against exact search over the same vectors.",
                "Targets (issue 21): search <= 100 ms at 1,000,000 items, recall@10 >= 0.95.",
            ],
        )
        self.stdout.write("\n" + text_table(section))
        paths = write_report(
            [section], {"sizes": sizes}, Path(settings.VAR_DIR) / "bench", name="search"
        )
        self.stdout.write(f"\nWritten: {', '.join(map(str, paths))}")
