"""One size of the benchmark, end to end: a fresh database and worker, the synthetic file
imported and analysed, theme discovery beside BERTopic and the dashboard pages, then a tenth
as many new items imported and analysed as the runs for new feedback do."""

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from devtools.benchmark.database import refresh_statistics, reset_database
from devtools.benchmark.llm_speed import llm_token_rates
from devtools.benchmark.page_data import fill_page_data
from devtools.benchmark.pages import time_alert_detection, time_dashboard
from devtools.benchmark.pipeline import Observer, run_pipeline
from devtools.benchmark.report import SizeResult
from devtools.benchmark.synthetic import SourceText, synthetic_rows, write_csv
from devtools.benchmark.theme_speed import compare_clustering, stored_vectors
from devtools.benchmark.worker import start_worker
from insights.local_models import configured_embedder, configured_llm

# New feedback after the first analysis, as a share of the size: what beat's runs for new
# items then take (embedding, sentiment and assignment to the stored themes).
NEW_ITEMS_SHARE = 0.1


@dataclass(frozen=True)
class BenchmarkConfig:
    out_dir: Path  # var/bench: the data files, worker logs and reports
    seed: int = 0


def run_size(
    items: int, sources: list[SourceText], config: BenchmarkConfig, observe: Observer
) -> SizeResult:
    """Benchmark one size on a freshly reset database with a fresh worker; return what it
    measured. The worker's peak memory is read before it stops."""
    now = datetime.now(UTC)
    rows = synthetic_rows(sources, items, now, seed=config.seed)
    path = write_csv(rows, config.out_dir / "data" / f"feedback-{items}.csv")
    new_rows = synthetic_rows(
        sources, round(items * NEW_ITEMS_SHARE), now, seed=config.seed + 1, id_prefix="new"
    )
    new_path = write_csv(new_rows, config.out_dir / "data" / f"feedback-{items}-new.csv")
    reset_database()
    worker = start_worker(config.out_dir / f"worker-{items}.log")
    try:
        timings = run_pipeline(path, items, worker, observe)
        # Measured at this size, before the new items arrive; the worker is idle meanwhile.
        observe("themes vs BERTopic", 0, 1)
        clustering = compare_clustering(stored_vectors())
        observe("dashboard pages", 0, 1)
        refresh_statistics()
        pages = time_dashboard()
        new_items = run_pipeline(new_path, len(new_rows), worker, observe, recluster=False)
        peak = worker.peak_memory_bytes()
    finally:
        worker.stop()
    observe("LLM tokens/s", 0, 1)
    rates = llm_token_rates(configured_llm(), [row.text for row in rows[:100]])
    return SizeResult(
        items, timings, peak, clustering, pages, os.getloadavg(), rates, new_items=new_items
    )


def run_pages_only(
    items: int, sources: list[SourceText], config: BenchmarkConfig, observe: Observer
) -> SizeResult:
    """Time the dashboard pages over items stored with synthetic analysis rows, on a freshly
    reset database: the pages' cost at a size the pipeline would take hours to reach here."""
    reset_database()
    counting = fill_page_data(
        sources,
        items,
        configured_embedder().name,
        config.seed,
        lambda done, total: observe("storing items", done, total),
    )
    observe("dashboard pages", 0, 1)
    refresh_statistics()
    pages = time_dashboard()
    counted = f"Daily counts of every item written (as each run does twice) in {counting:.1f} s."
    detecting, raised = time_alert_detection()
    alerts = f"The last full week tested for alerts in {detecting:.2f} s ({raised} raised)."
    return SizeResult(
        items,
        None,
        None,
        pages=pages,
        load_average=os.getloadavg(),
        pages_notes=[counted, alerts],
    )
