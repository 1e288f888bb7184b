"""Generating and archiving reports: a Report row keeps the period, the settings the report
was made with, and its files, byte for byte, so that opening it later shows what was sent."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ingestion.models import DataSource
from insights.dashboards import overview as dashboard
from insights.models import Report, ReportSchedule, RunStatus
from insights.reports import content as figures
from insights.reports.content import ReportContent, build_report
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


def request_report(
    period: Period,
    source_ids: Sequence[int] = (),
    formats: Iterable[str] = FORMATS,
    created_by: AbstractBaseUser | None = None,
) -> Report:
    """Create a queued report and hand it to a worker once the transaction commits; return
    it. Reports are made on a worker: a week of 100,000 items takes seconds, months of them
    tens of seconds (see the reports section of README.md)."""
    from insights.tasks import generate_report_task

    with transaction.atomic():
        report = new_report(period, source_ids, formats, created_by)
        transaction.on_commit(lambda: generate_report_task.delay(report.pk))
    return report


def create_report(
    period: Period,
    source_ids: Sequence[int] = (),
    formats: Iterable[str] = FORMATS,
    created_by: AbstractBaseUser | None = None,
    schedule: ReportSchedule | None = None,
    observer: Observer | None = None,
) -> Report:
    """Make and archive a report here and now; return it, done (or failed)."""
    report = new_report(period, source_ids, formats, created_by, schedule)
    return generate_report(report.pk, observer)


def new_report(
    period: Period,
    source_ids: Sequence[int],
    formats: Iterable[str],
    created_by: AbstractBaseUser | None = None,
    schedule: ReportSchedule | None = None,
) -> Report:
    """Return a new queued report for the period, sources and formats (nothing computed)."""
    formats = [name for name in FORMATS if name in set(formats)]
    if not formats:
        raise ValueError("a report needs at least one format")
    with transaction.atomic():
        report = Report.objects.create(
            period_start=period.start,
            period_end=period.end,
            time_zone=period.time_zone,
            parameters={"formats": formats},
            total=1 + sum(len(FORMATS[name]) for name in formats),
            schedule=schedule,
            created_by=created_by if created_by and created_by.is_authenticated else None,
        )
        report.sources.set(source_ids)
    return report


def generate_report(report_id: int, observer: Observer | None = None) -> Report:
    """Compute and render a queued report and store its files; return it. A finished report
    is left as it is (its files never change); one left running by a worker that died is
    made again from the start."""
    claimed = Report.objects.filter(
        pk=report_id, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
    ).update(status=RunStatus.RUNNING, done=0, error="")
    report = Report.objects.get(pk=report_id)
    if not claimed:
        return report
    try:
        _generate(report, observer or _no_observer)
    except Exception as error:
        # Recorded for the page that polls, then raised again for the worker's log.
        Report.objects.filter(pk=report_id).update(
            status=RunStatus.FAILED,
            error=f"{type(error).__name__}: {error}",
            finished_at=timezone.now(),
        )
        raise
    report.refresh_from_db()
    return report


def _generate(report: Report, observer: Observer) -> None:
    period = Period(report.period_start, report.period_end, report.time_zone)
    source_ids = list(report.sources.values_list("pk", flat=True))
    formats = report.parameters["formats"]
    observer("figures", 0, report.total)
    content = build_report(period, source_ids)
    _progress(report, 1, observer, "figures")
    files = {}
    for kind in [kind for name in formats for kind in FORMATS[name]]:
        files[FILES[kind].field] = RENDERERS[kind](content)
        _progress(report, len(files) + 1, observer, kind)
    Report.objects.filter(pk=report.pk).update(
        **files,
        parameters=report_parameters(content, formats),
        status=RunStatus.DONE,
        finished_at=timezone.now(),
    )


def _progress(report: Report, done: int, observer: Observer, stage: str) -> None:
    Report.objects.filter(pk=report.pk).update(done=done)
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
            for pk, name in DataSource.objects.filter(pk__in=content.source_ids)
            .order_by("name")
            .values_list("pk", "name")
        ]
        or "all",
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
