"""python manage.py weekly_report: a report from the command line, archived like the others."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import DataSource, Project
from insights.models import Report
from tests.insights.report_data import make_feedback
from tests.insights.test_reports import pdf_text

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("weekly_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_writes_the_weeks_pdf_and_archives_it(tmp_path: Path) -> None:
    make_feedback()
    out = tmp_path / "w08.pdf"
    printed = run(
        "--week", "2015-W08", "--time-zone", "Europe/Paris", "--format", "pdf", "--out", str(out)
    )
    report = Report.objects.get()
    assert out.read_bytes() == bytes(report.pdf)
    assert out.read_bytes().startswith(b"%PDF-")
    assert "Sync fails" in pdf_text(out.read_bytes())
    assert (
        f"Report {report.pk} (2015-W08 (16 Feb 2015 to 22 Feb 2015), 22 items) archived." in printed
    )
    assert report.created_by is None and report.schedule is None


def test_csv_writes_the_themes_to_the_path_and_the_items_beside_it(tmp_path: Path) -> None:
    feedback = make_feedback()
    out = tmp_path / "w08.csv"
    run(
        "--week",
        "2015-W08",
        "--time-zone",
        "Europe/Paris",
        "--format",
        "csv",
        "--out",
        str(out),
        "--source",
        "Help desk",
    )
    themes = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    items = list(
        csv.DictReader(io.StringIO((tmp_path / "w08-items.csv").read_text(encoding="utf-8-sig")))
    )
    assert [row["theme"] for row in themes] == ["Budgets", "Login broken"]
    assert len(items) == 9 and {row["source"] for row in items} == {"Help desk"}
    assert list(Report.objects.get().sources.all()) == [feedback.desk]


def test_into_a_folder_the_files_get_their_archive_names(tmp_path: Path) -> None:
    make_feedback()
    run("--week", "2015-W08", "--format", "html", "--out", str(tmp_path))
    report = Report.objects.get()
    written = tmp_path / f"feedlens-report-{report.pk}-2015-W08.html"
    assert written.read_bytes() == bytes(report.html)


def test_it_refuses_an_unknown_source_or_a_bad_week(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no data source named 'Nowhere'"):
        run("--week", "2015-W08", "--out", str(tmp_path / "x.pdf"), "--source", "Nowhere")
    with pytest.raises(CommandError, match="not an ISO week"):
        run("--week", "last week", "--out", str(tmp_path / "x.pdf"))
    assert not Report.objects.exists()


def test_a_project_names_the_product_the_report_is_about(tmp_path: Path) -> None:
    feedback = make_feedback()
    helpdesk = Project.objects.create(name="Help desk product")
    DataSource.objects.filter(pk=feedback.desk.pk).update(project=helpdesk)
    week = ("--week", "2015-W08", "--time-zone", "Europe/Paris", "--format", "html")

    printed = run(*week, "--out", str(tmp_path), "--project", "Help desk product")

    assert "9 items) archived." in printed
    assert Report.objects.get().project == helpdesk
    with pytest.raises(CommandError, match="there is no project named 'Nope'"):
        run(*week, "--out", str(tmp_path), "--project", "Nope")
