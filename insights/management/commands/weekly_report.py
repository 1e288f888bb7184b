"""python manage.py weekly_report [--week 2015-W08] --format pdf|html|csv --out PATH
[--project NAME] [--source NAME ...]: make a report, archive it, and write its file(s)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from ingestion.models import DataSource, Project
from insights.models import Report, RunStatus
from insights.reports.archive import FORMATS, file_name, generate_report, new_report, report_file
from insights.reports.content import ReportScope
from insights.reports.period import Period, PeriodError, iso_week, last_full_week


class Command(BaseCommand):
    help = (
        "Make a feedback report for a week (default: the last full week, Monday to Sunday, in "
        "the report time zone), archive it like the ones made in the app, and write it to "
        "--out. --format csv writes two files: the themes to PATH and the items to PATH with "
        "-items before its ending (report.csv, report-items.csv). When --out is a folder, "
        "the files get their archive names in it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--week", help="ISO week, like 2015-W08 (default: the last full week)")
        parser.add_argument("--time-zone", help="IANA time zone (default: the report setting)")
        parser.add_argument("--format", choices=sorted(FORMATS), default="pdf")
        parser.add_argument("--out", required=True, type=Path, help="file or existing folder")
        parser.add_argument("--project", help="a project's name (default: every project)")
        parser.add_argument(
            "--source", action="append", default=[], help="a data source's name (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = self._period(options["week"], options["time_zone"])
        except PeriodError as error:
            raise CommandError(str(error)) from error
        sources = [self._source_id(name) for name in options["source"]]
        project = self._project_id(options["project"]) if options["project"] else None
        report = new_report(period, ReportScope.of(sources, project), [options["format"]])
        with tqdm(total=report.total, desc="report", unit="step") as bar:

            def show(stage: str, done: int, total: int) -> None:
                bar.set_postfix_str(stage)
                bar.update(done - bar.n)

            report = generate_report(report.pk, observer=show)
        if report.status != RunStatus.DONE:
            raise CommandError(f"report {report.pk} failed: {report.error}")
        for kind, path in output_paths(options["out"], options["format"], report).items():
            path.write_bytes(report_file(report, kind))
            self.stdout.write(f"Wrote {path}")
        self.stdout.write(
            f"Report {report.pk} ({period.label}, {report.parameters['items']:,} items) archived."
        )

    def _period(self, week: str | None, time_zone: str | None) -> Period:
        return iso_week(week, time_zone) if week else last_full_week(time_zone)

    def _project_id(self, name: str) -> int:
        project = Project.objects.filter(name=name).first()
        if project is None:
            raise CommandError(f"there is no project named {name!r}")
        return project.pk

    def _source_id(self, name: str) -> int:
        source = DataSource.objects.filter(name=name).first()
        if source is None:
            raise CommandError(f"there is no data source named {name!r}")
        return source.pk


def output_paths(out: Path, format_name: str, report: Report) -> dict[str, Path]:
    """Return where each file of the format goes: into out when it is a folder, else out
    itself (and, for CSV's second file, out with -items before its ending)."""
    kinds = FORMATS[format_name]
    if out.is_dir():
        return {kind: out / file_name(report, kind) for kind in kinds}
    paths = {kinds[0]: out}
    if len(kinds) == 2:
        paths[kinds[1]] = out.with_name(f"{out.stem}-items{out.suffix}")
    return paths
