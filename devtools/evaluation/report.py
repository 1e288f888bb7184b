"""The evaluation's output: each step's results as a section (a table with notes), printed
as aligned text and written as JSON and Markdown under var/eval/ (dated, and latest)."""

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

Row = dict[str, object]


@dataclass(frozen=True)
class Section:
    """One step's results: rows keyed by the columns, in column order when shown."""

    name: str  # themes, sentiment or pain_points
    title: str
    columns: tuple[str, ...]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


def format_value(value: object) -> str:
    """Return a cell as shown: floats to three decimals, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _cells(section: Section) -> list[list[str]]:
    return [[format_value(row.get(column)) for column in section.columns] for row in section.rows]


def _aligned(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))


def text_table(section: Section) -> str:
    """Return the section as an aligned plain-text table under its title, notes below."""
    cells = _cells(section)
    widths = [
        max([len(column), *(len(row[i]) for row in cells)])
        for i, column in enumerate(section.columns)
    ]
    lines = [
        section.title,
        _aligned(section.columns, widths),
        _aligned(["-" * w for w in widths], widths),
    ]
    lines += [_aligned(row, widths) for row in cells]
    lines += [f"  * {note}" for note in section.notes]
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(section: Section) -> str:
    """Return the section as a Markdown heading, table and bulleted notes."""
    lines = [f"## {section.title}", "", "| " + " | ".join(section.columns) + " |"]
    lines.append("|" + "---|" * len(section.columns))
    lines += ["| " + " | ".join(row) + " |" for row in _cells(section)]
    if section.notes:
        lines += ["", *(f"- {note}" for note in section.notes)]
    return "\n".join(lines)


def machine_description() -> dict[str, object]:
    """Return what the timings depend on: CPUs, load average at the end, platform."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(value, 2) for value in load],
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def report_document(
    sections: Sequence[Section], run: dict[str, object], day: date | None = None
) -> dict[str, Any]:
    """Return the report as JSON-ready data: date, machine, run facts, and every section."""
    return {
        "date": (day or date.today()).isoformat(),
        "machine": machine_description(),
        "run": run,
        "sections": {section.name: asdict(section) for section in sections},
    }


def markdown_report(document: dict[str, Any], sections: Sequence[Section]) -> str:
    """Return the whole report as Markdown."""
    machine = document["machine"]
    load = " / ".join(str(value) for value in machine["load_average"])
    run = ", ".join(f"{key} {value}" for key, value in document["run"].items())
    header = [
        f"# Feedlens quality evaluation, {document['date']}",
        "",
        f"Machine: {machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}; "
        f"load average at the end {load} (1, 5, 15 min).",
        "",
        f"Run: {run}.",
    ]
    return "\n\n".join(["\n".join(header), *(markdown_table(s) for s in sections)]) + "\n"


def write_report(
    sections: Sequence[Section], run: dict[str, object], out_dir: Path, day: date | None = None
) -> list[Path]:
    """Write eval-<date>.json/.md and latest.json/.md under out_dir; return their paths."""
    document = report_document(sections, run, day)
    out_dir.mkdir(parents=True, exist_ok=True)
    as_json = json.dumps(document, indent=2, default=str) + "\n"
    as_markdown = markdown_report(document, sections)
    paths = []
    for stem in (f"eval-{document['date']}", "latest"):
        for suffix, content in ((".json", as_json), (".md", as_markdown)):
            path = out_dir / f"{stem}{suffix}"
            path.write_text(content, encoding="utf-8")
            paths.append(path)
    return paths
