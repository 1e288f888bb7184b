"""The benchmark's output: per size, the pipeline's stages, theme discovery beside BERTopic
and the dashboard pages as sections (the evaluation's table format), printed and written as
JSON and Markdown under var/bench/ (dated, and latest)."""

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from devtools.benchmark.llm_speed import TokenRate
from devtools.benchmark.pipeline import PipelineTimings
from devtools.benchmark.theme_speed import ClusteringTiming
from devtools.evaluation.report import (
    Row,
    Section,
    markdown_table,
    report_document,
)

GIB = 1024**3


@dataclass
class SizeResult:
    """What one size of the benchmark measured."""

    items: int
    pipeline: PipelineTimings | None  # None: pages only, on stored synthetic analysis rows
    worker_peak_bytes: int | None
    clustering: list[ClusteringTiming] = field(default_factory=list)
    pages: dict[str, float] = field(default_factory=dict)  # path -> median seconds
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    llm_rates: list[TokenRate] = field(default_factory=list)
    new_items: PipelineTimings | None = None  # the incremental run after the first one
    pages_notes: list[str] = field(default_factory=list)  # what else the page timing found


def _per_second(items: int, seconds: float) -> float | None:
    return items / seconds if seconds > 0 else None


def pipeline_section(result: SizeResult) -> Section | None:
    """Return the first run's stages; None when the pipeline did not run."""
    if result.pipeline is None:
        return None
    peak = f"{result.worker_peak_bytes / GIB:.2f} GiB" if result.worker_peak_bytes else "unknown"
    load = " / ".join(f"{value:.2f}" for value in result.load_average)
    notes = [
        f"Worker peak memory (VmHWM, the new items' run included): {peak}. Load average "
        f"after the run: {load} (1, 5, 15 min).",
        "One analysis run that clusters every item into themes. The embedding stage "
        "includes loading the models in the fresh worker; the stage 'items' count is what "
        "each stage reports (e.g. texts embedded, themes described).",
    ]
    title = f"Pipeline at {result.items:,} items"
    return stage_table(result.pipeline, f"pipeline_{result.items}", title, notes)


def new_items_section(result: SizeResult) -> Section | None:
    """Return the stages of the run for new items; None when there was none."""
    if result.new_items is None:
        return None
    notes = [
        f"{result.new_items.items:,} new items imported into the same source after the first "
        "run and analysed without re-clustering, as the scheduled runs for new feedback are: "
        "assigning gives each the nearest stored theme it is close enough to, the themes "
        "stage clusters those that fit none among themselves, placing tries the rest on the "
        "new themes, and describing redoes only themes whose size changed by more than a "
        "fifth.",
        "Sentiment: the language model scores items it has not scored yet up to "
        "SENTIMENT_LLM_CALLS_PER_RUN calls (a long item takes one for its whole text and one a "
        "sentence), earlier items included, so the count can pass the new items'; the "
        "others keep their prediction from the embeddings until a later run scores them.",
    ]
    title = f"New items after {result.items:,}: assigned to the stored themes"
    return stage_table(result.new_items, f"new_items_{result.items}", title, notes)


def stage_table(timings: PipelineTimings, name: str, title: str, notes: list[str]) -> Section:
    """Return one row per stage (items, seconds, items/s, share of the stages' time), then
    the sum of the stages and the end-to-end wall time."""
    total = sum(timings.stage_seconds.values())
    rows: list[Row] = [
        {
            "stage": stage,
            "items": timings.stage_items.get(stage),
            "seconds": seconds,
            "items/s": _per_second(timings.stage_items.get(stage, 0), seconds),
            "share": seconds / total if total else None,
        }
        for stage, seconds in timings.stage_seconds.items()
    ]
    rows.append(
        {
            "stage": "sum of stages",
            "items": timings.items,
            "seconds": total,
            "items/s": _per_second(timings.items, total),
            "share": 1.0,
        }
    )
    rows.append(
        {
            "stage": "end to end (queue to done)",
            "items": timings.items,
            "seconds": timings.end_to_end_seconds,
            "items/s": _per_second(timings.items, timings.end_to_end_seconds),
        }
    )
    return Section(name, title, ("stage", "items", "seconds", "items/s", "share"), rows, notes)


def clustering_section(result: SizeResult) -> Section | None:
    """Return ours and BERTopic's clustering stage with each one's time relative to ours."""
    if not result.clustering:
        return None
    ours = result.clustering[0].seconds
    rows: list[Row] = [
        {**asdict(timing), "vs ours": timing.seconds / ours if ours else None}
        for timing in result.clustering
    ]
    notes = ["Same stored embeddings, same process, one run each after a UMAP warm-up."]
    return Section(
        f"themes_{result.items}",
        f"Theme discovery at {result.items:,} items",
        ("method", "seconds", "themes", "unassigned", "vs ours"),
        rows,
        notes,
    )


def pages_section(result: SizeResult) -> Section | None:
    """Return the median server time of each dashboard page, in milliseconds."""
    if not result.pages:
        return None
    rows: list[Row] = [
        {"page": path, "median ms": seconds * 1000} for path, seconds in result.pages.items()
    ]
    notes = ["Django test client as a superuser, median of 5 requests; no network, no browser."]
    if result.pipeline is None:
        notes.append(
            "Pages only: items from the public texts, dated over a year, stored with synthetic "
            "analysis rows (random vectors, themes and sentiment; see "
            "devtools/benchmark/page_data.py)."
        )
    notes += result.pages_notes
    return Section(
        f"pages_{result.items}",
        f"Dashboard pages at {result.items:,} items",
        ("page", "median ms"),
        rows,
        notes,
    )


def llm_section(result: SizeResult) -> Section | None:
    """Return the language model's prompt and generation tokens per second."""
    if not result.llm_rates:
        return None
    rows: list[Row] = [
        {
            "phase": rate.phase,
            "tokens": rate.tokens,
            "seconds": rate.seconds,
            "tokens/s": rate.per_second,
        }
        for rate in result.llm_rates
    ]
    notes = ["One greedy completion in the benchmark's process, llama.cpp's own counters."]
    return Section(
        f"llm_{result.items}",
        f"Language model after {result.items:,} items",
        ("phase", "tokens", "seconds", "tokens/s"),
        rows,
        notes,
    )


def sections_for(result: SizeResult) -> list[Section]:
    """Return the sections of one size, those with nothing measured left out."""
    candidates = (
        pipeline_section(result),
        new_items_section(result),
        clustering_section(result),
        llm_section(result),
        pages_section(result),
    )
    return [section for section in candidates if section is not None]


def markdown_report(document: dict[str, Any], sections: Sequence[Section]) -> str:
    """Return the whole report as Markdown."""
    machine = document["machine"]
    run = ", ".join(f"{key} {value}" for key, value in document["run"].items())
    header = (
        f"# Feedlens speed benchmark, {document['date']}\n\n"
        f"Machine: {machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}.\n\n"
        f"Run: {run}."
    )
    return "\n\n".join([header, *(markdown_table(section) for section in sections)]) + "\n"


def write_report(
    sections: Sequence[Section],
    run: dict[str, object],
    out_dir: Path,
    day: date | None = None,
    name: str = "bench",
) -> list[Path]:
    """Write <name>-<date>.json/.md and <name>-latest.json/.md (latest.json/.md for the
    full benchmark) under out_dir; return their paths."""
    document = report_document(sections, run, day)
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        ".json": json.dumps(document, indent=2, default=str) + "\n",
        ".md": markdown_report(document, sections),
    }
    paths = []
    latest = "latest" if name == "bench" else f"{name}-latest"
    for stem in (f"{name}-{document['date']}", latest):
        for suffix, content in contents.items():
            path = out_dir / f"{stem}{suffix}"
            path.write_text(content, encoding="utf-8")
            paths.append(path)
    return paths
