"""Generating and archiving reports: a Report row keeps the period, the settings the report
was made with, and its files, byte for byte, so that opening it later shows what was sent."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction

from accounts.people import signed_in_person
from feedlens.jobs import carry_out, claim_job, heartbeat
from ingestion.models import DataSource
from insights.dashboards import overview as dashboard
from insights.models import Report, ReportSchedule
from insights.reports import content as figures
from insights.reports.content import WHOLE_WORKSPACE, ReportContent, ReportScope, build_report
from insights.reports.period import Period
from insights.reports.render_csv import items_csv, themes_csv
from insights.reports.render_html import report_html
from insights.reports.render_pdf import report_pdf


@dataclass(frozen=True)
class ReportFile:
    """One of an archived report's files: which field holds it, its type and file ending."""

    field: str
    content_type: str
    suffix: str
    label: str


FILES = {
    "html": ReportFile("html", "text/html; charset=utf-8", ".html", "HTML page"),
    "pdf": ReportFile("pdf", "application/pdf", ".pdf", "PDF with charts"),
    "themes_csv": ReportFile(
        "themes_csv", "text/csv; charset=utf-8", "-themes.csv", "Themes (CSV)"
    ),
    "items_csv": ReportFile("items_csv", "text/csv; charset=utf-8", "-items.csv", "Items (CSV)"),
}
# What a person asks for: CSV is the two files together.
FORMATS = {"html": ["html"], "pdf": ["pdf"], "csv": ["themes_csv", "items_csv"]}
FORMAT_CHOICES = [
    ("html", "HTML page"),
    ("pdf", "PDF with charts"),
    ("csv", "CSV (themes and items)"),
]
RENDERERS = {
    "html": report_html,
    "pdf": report_pdf,
    "themes_csv": themes_csv,
    "items_csv": items_csv,
}


Observer = Callable[[str, int, int], None]


def create_report(
    period: Period,
    scope: ReportScope = WHOLE_WORKSPACE,
    formats: Iterable[str] = FORMATS,
    created_by: AbstractBaseUser | AnonymousUser | None = None,
    schedule: ReportSchedule | None = None,
    observer: Observer | None = None,
) -> Report:
    """Make and archive a report here and now; return it, done (or failed)."""
    report = new_report(period, scope, formats, created_by, schedule)
    return generate_report(report.pk, observer)


def new_report(
    period: Period,
    scope: ReportScope,
    formats: Iterable[str],
    created_by: AbstractBaseUser | AnonymousUser | None = None,
    schedule: ReportSchedule | None = None,
) -> Report:
    """Return a new queued report for the period, scope and formats (nothing computed)."""
    formats = [name for name in FORMATS if name in set(formats)]
    if not formats:
        raise ValueError("a report needs at least one format")
    with transaction.atomic():
        report = Report.objects.create(
            period_start=period.start,
            period_end=period.end,
            time_zone=period.time_zone,
            project_id=scope.project_id,
            parameters={"formats": formats},
            total=1 + sum(len(FORMATS[name]) for name in formats),
            schedule=schedule,
            created_by=signed_in_person(created_by),
        )
        report.sources.set(scope.source_ids)
    return report


def generate_report(
    report_id: int, observer: Observer | None = None, *, task_id: str = ""
) -> Report:
    """Compute and render a queued report and store its files; return it. A finished report
    is left as it is (its files never change), as is one another worker holds
    (feedlens.jobs.claim_job); one left running by a worker that died is made again from
    the start."""
    report = claim_job(Report, report_id, task_id=task_id, reset={"done": 0})
    if report is None:
        return Report.objects.get(pk=report_id)
    carry_out(report, partial(_generate, report, observer or _no_observer))
    report.refresh_from_db()
    return report


def _generate(report: Report, observer: Observer) -> dict[str, Any]:
    """Compute and render the report; return its files and parameters, to finish it with."""
    period = Period(report.period_start, report.period_end, report.time_zone)
    scope = ReportScope.of(report.sources.values_list("pk", flat=True), report.project_id)
    formats = report.parameters["formats"]
    observer("figures", 0, report.total)
    content = build_report(period, scope)
    _progress(report, 1, observer, "figures")
    files = {}
    for kind in [kind for name in formats for kind in FORMATS[name]]:
        files[FILES[kind].field] = RENDERERS[kind](content)
        _progress(report, len(files) + 1, observer, kind)
    return {**files, "parameters": report_parameters(content, formats)}


def _progress(report: Report, done: int, observer: Observer, stage: str) -> None:
    heartbeat(report, done=done)
    observer(stage, done, report.total)


def _no_observer(stage: str, done: int, total: int) -> None:
    """Nobody watches a report made on a worker: the page polls its row instead."""


def report_parameters(content: ReportContent, formats: list[str]) -> dict[str, Any]:
    """Return what the report was made with, as JSON: enough to tell later how a figure came."""
    period = content.period
    return {
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "time_zone": period.time_zone,
            "label": period.label,
            "previous_start": content.previous_period.start.isoformat(),
            "previous_end": content.previous_period.end.isoformat(),
        },
        "sources": [
            {"id": pk, "name": name}
            for pk, name in DataSource.objects.filter(pk__in=content.scope.source_ids)
            .order_by("name")
            .values_list("pk", "name")
        ]
        or "all",
        "project": content.project_name or "all",
        "formats": formats,
        "items": content.totals.total,
        "rules": {
            "top_themes": figures.TOP_THEMES,
            "section_themes": figures.SECTION_THEMES,
            "quotes_per_theme": figures.QUOTES_PER_THEME,
            "negative_share_min_rise": figures.NEGATIVE_SHARE_MIN_RISE,
            "negative_share_min_items": dashboard.NEGATIVE_SHARE_MIN_ITEMS,
            "rising_min_growth": dashboard.RISING_MIN_GROWTH,
            "rising_min_items": dashboard.RISING_MIN_ITEMS,
            "rising_min_z": dashboard.RISING_MIN_Z,
        },
        "generated_at": content.generated_at.isoformat(),
    }


def file_name(report: Report, kind: str) -> str:
    week = report.parameters.get("period", {}).get("label", "").split(" ")[0]
    span = week if week.count("-W") == 1 else f"{report.period_start}_{report.period_end}"
    return f"feedlens-report-{report.pk}-{span}{FILES[kind].suffix}"


def available_files(report: Report) -> list[str]:
    """Return the kinds of file the report was made with, in FILES order."""
    return [kind for kind in FILES if bytes(getattr(report, FILES[kind].field) or b"")]


def report_file(report: Report, kind: str) -> bytes:
    return bytes(getattr(report, FILES[kind].field) or b"")
