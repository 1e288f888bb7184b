"""Reports: the period arithmetic, the figures, and the files (HTML, CSV, PDF)."""

import base64
import csv
import io
import re
import zlib
from datetime import UTC, date, datetime

import pytest

from ingestion.models import DataSource, Project
from insights.models import RunStatus
from insights.reports.archive import FORMATS, create_report, report_file
from insights.reports.content import ReportScope, build_report
from insights.reports.period import Period, PeriodError, iso_week, last_full_week
from insights.reports.render_csv import items_csv, themes_csv
from insights.reports.render_html import report_html
from insights.reports.render_pdf import report_pdf
from tests.insights.report_data import make_feedback

W08 = Period(date(2015, 2, 16), date(2015, 2, 22), "Europe/Paris")


# ---- the period


def test_the_last_full_week_ends_on_the_sunday_before_in_the_report_time_zone() -> None:
    # Monday 00:30 in Paris is still Sunday in UTC: the weeks differ.
    now = datetime(2015, 2, 22, 23, 30, tzinfo=UTC)
    assert last_full_week("Europe/Paris", now) == W08
    assert last_full_week("UTC", now) == Period(date(2015, 2, 9), date(2015, 2, 15), "UTC")


def test_a_week_starts_and_ends_at_local_midnight_across_a_clock_change() -> None:
    # Paris moves its clocks forward on Sunday 29 March 2015.
    week = iso_week("2015-W13", "Europe/Paris")
    assert (week.start, week.end) == (date(2015, 3, 23), date(2015, 3, 29))
    assert week.starts_at.astimezone(UTC) == datetime(2015, 3, 22, 23, tzinfo=UTC)
    assert week.ends_at.astimezone(UTC) == datetime(2015, 3, 29, 22, tzinfo=UTC)


def test_iso_weeks_are_read_like_the_standard_says() -> None:
    assert iso_week("2015-W08", "Europe/Paris") == W08
    assert iso_week("2015W08", "Europe/Paris") == W08
    # 1 January 2021 is a Friday: it belongs to 2020's week 53.
    assert iso_week("2020-W53", "UTC").start == date(2020, 12, 28)
    assert W08.iso_week == "2015-W08"
    with pytest.raises(PeriodError, match="2014 has no week 53"):
        iso_week("2014-W53")
    with pytest.raises(PeriodError, match="not an ISO week"):
        iso_week("February")


def test_the_previous_period_has_the_same_length_and_ends_the_day_before() -> None:
    ten_days = Period(date(2015, 3, 1), date(2015, 3, 10), "UTC")
    assert ten_days.previous() == Period(date(2015, 2, 19), date(2015, 2, 28), "UTC")
    assert W08.previous() == iso_week("2015-W07", "Europe/Paris")
    assert ten_days.iso_week is None


def test_a_period_refuses_an_unknown_time_zone_or_an_end_before_its_start() -> None:
    with pytest.raises(PeriodError, match="not a time zone"):
        Period(date(2015, 1, 1), date(2015, 1, 2), "Mars/Olympus")
    with pytest.raises(PeriodError, match="before it starts"):
        Period(date(2015, 1, 2), date(2015, 1, 1), "UTC")


# ---- the figures


@pytest.mark.django_db
def test_the_report_counts_volume_and_sentiment_against_the_week_before() -> None:
    make_feedback()
    report = build_report(W08)
    assert report.totals.total == 22
    assert (report.totals.negative, report.totals.neutral, report.totals.positive) == (19, 1, 2)
    assert report.previous_totals.total == 11
    previous = report.previous_totals
    assert (previous.negative, previous.neutral, previous.positive) == (1, 2, 7)
    assert report.previous_totals.not_analysed == 1
    assert report.growth_percent == 100
    rows = {row["label"]: (row["now"], row["before"], row["percent"]) for row in report.volume_rows}
    assert rows["Negative"] == (19, 1, 1800)
    assert rows["Positive"] == (2, 7, -71)


@pytest.mark.django_db
def test_a_persons_correction_wins_over_the_prediction() -> None:
    feedback = make_feedback()
    report = build_report(W08)
    sync = next(theme for theme in report.themes if theme.id == feedback.sync.pk)
    assert (sync.current.negative, sync.current.positive) == (12, 0)


@pytest.mark.django_db
def test_days_are_local_days_and_the_monday_after_is_left_out() -> None:
    make_feedback()
    days = build_report(W08).days
    assert [day.day for day in days] == [date(2015, 2, d) for d in range(16, 23)]
    assert [day.split.total for day in days] == [11, 4, 6, 0, 0, 0, 1]
    assert [day.split.negative for day in days] == [11, 4, 4, 0, 0, 0, 0]


@pytest.mark.django_db
def test_the_report_finds_top_new_rising_and_more_negative_themes() -> None:
    make_feedback()
    report = build_report(W08)
    assert [(t.name, t.current.total, t.previous.total) for t in report.top_themes] == [
        ("Sync fails", 12, 2),
        ("Budgets", 6, 6),
        ("Login broken", 3, 0),
    ]
    assert [theme.name for theme in report.new_themes] == ["Login broken"]
    assert [theme.name for theme in report.rising_themes] == ["Sync fails"]
    assert report.rising_themes[0].growth_percent == 500
    assert [theme.name for theme in report.more_negative_themes] == ["Budgets"]
    budgets = report.more_negative_themes[0]
    assert (budgets.previous.negative_percent, budgets.current.negative_percent) == (17, 67)
    assert "Old export bug" not in [theme.name for theme in report.top_themes]


@pytest.mark.django_db
def test_each_theme_comes_with_its_summary_and_distinct_quotes_from_the_period() -> None:
    feedback = make_feedback()
    sync = build_report(W08).top_themes[0]
    assert sync.summary == ["Sync fails after the update."]
    assert sync.summary_note == ""
    # What the summary cites first, then the items nearest the theme's centre.
    assert [quote.text for quote in sync.quotes] == [
        "Sync fails on device 0",
        "Sync fails on device 10",
        "Sync fails on device 9",
    ]
    assert sync.quotes[0].item_id == feedback.sync_representative.pk
    budgets = build_report(W08).more_negative_themes[0]
    assert budgets.summary_note == "Top quotes (the generated summary was not supported)"
    assert all(quote.text.startswith("Budget trouble") for quote in budgets.quotes)


@pytest.mark.django_db
def test_a_theme_with_a_card_is_reported_by_its_sentences_and_facets() -> None:
    feedback = make_feedback()
    cited = list(feedback.sync.assignments.values_list("item_id", flat=True)[:2])
    feedback.sync.card = {
        "version": "card-1",
        "customers": 12,
        "facets": [
            {"phrase": "sync fails", "customers": 9, "items": 9, "share": 0.75, "item_ids": cited}
        ],
        "sentences": [{"text": "9 customers (75%) say “sync fails”.", "path": "template"}],
    }
    feedback.sync.save()
    sync = build_report(W08).top_themes[0]
    # The card's sentence, the model's checked sentence, then a line per facet.
    assert sync.summary == [
        "9 customers (75%) say “sync fails”.",
        "Sync fails after the update.",
        "“sync fails”: 9 customers (75%)",
    ]
    assert sync.summary_note.startswith("Pain-point card")
    assert "“sync fails”: 9 customers (75%)" in report_html(build_report(W08)).decode()
    rows = read_csv(themes_csv(build_report(W08)))
    assert (rows[0]["theme"], rows[0]["summary_kind"]) == ("Sync fails", "card")


@pytest.mark.django_db
def test_items_are_counted_per_source_and_a_source_filter_keeps_only_its_items() -> None:
    feedback = make_feedback()
    report = build_report(W08)
    assert [(s.name, s.current.total, s.previous.total) for s in report.sources] == [
        ("App Store", 13, 5),
        ("Help desk", 9, 6),
    ]
    desk_only = build_report(W08, ReportScope.of([feedback.desk.pk]))
    assert desk_only.totals.total == 9
    assert desk_only.sources_label == "Help desk"
    assert [theme.name for theme in desk_only.top_themes] == ["Budgets", "Login broken"]


@pytest.mark.django_db
def test_a_projects_report_covers_its_sources_and_nothing_when_it_has_none() -> None:
    feedback = make_feedback()
    helpdesk = Project.objects.create(name="Help desk product")
    DataSource.objects.filter(pk=feedback.desk.pk).update(project=helpdesk)

    report = build_report(W08, ReportScope.of(project_id=helpdesk.pk))

    assert [source.name for source in report.sources] == ["Help desk"]
    assert report.totals.total == 9
    assert report.sources_label == "Help desk product: All sources"
    # A project with no sources yet reports nothing, never every source.
    empty = Project.objects.create(name="Not launched")
    assert build_report(W08, ReportScope.of(project_id=empty.pk)).totals.total == 0


# ---- the files


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.django_db
def test_the_themes_csv_has_one_row_per_theme_with_its_figures() -> None:
    make_feedback()
    rows = read_csv(themes_csv(build_report(W08)))
    assert [row["theme"] for row in rows] == [
        "Sync fails",
        "Budgets",
        "Login broken",
        "Old export bug",
    ]
    sync, budgets, login, old = rows
    assert (sync["items"], sync["previous_items"], sync["change_percent"]) == ("12", "2", "500")
    assert (sync["negative"], sync["rising"], sync["new"]) == ("12", "yes", "no")
    assert sync["summary"] == "Sync fails after the update."
    assert len(sync["quote_item_ids"].split()) == 3
    assert (budgets["negative_percent"], budgets["previous_negative_percent"]) == ("67", "17")
    assert budgets["negative_share_grew"] == "yes"
    assert (login["new"], login["change_percent"]) == ("yes", "")
    assert (old["items"], old["top"]) == ("0", "no")


@pytest.mark.django_db
def test_the_items_csv_lists_the_periods_items_in_local_time() -> None:
    feedback = make_feedback()
    rows = read_csv(items_csv(build_report(W08)))
    assert len(rows) == 22
    by_id = {int(row["id"]): row for row in rows}
    assert feedback.next_monday_item.pk not in by_id
    late = by_id[feedback.late_sunday_item.pk]
    assert late["created_at"] == "2015-02-22T23:30:00+01:00"
    assert (late["source"], late["sentiment"], late["theme"]) == ("App Store", "neutral", "")
    corrected = by_id[feedback.corrected_item.pk]
    assert (corrected["sentiment"], corrected["theme"]) == ("negative", "Sync fails")
    assert by_id[feedback.sync_representative.pk]["rating"] == "1.0"


@pytest.mark.django_db
def test_a_csv_cell_that_looks_like_a_formula_is_written_as_text() -> None:
    feedback = make_feedback()
    feedback.late_sunday_item.text = '=HYPERLINK("http://evil.example")'
    feedback.late_sunday_item.save()
    rows = read_csv(items_csv(build_report(W08)))
    texts = [row["text"] for row in rows if row["id"] == str(feedback.late_sunday_item.pk)]
    assert texts == ['\'=HYPERLINK("http://evil.example")']


@pytest.mark.django_db
def test_the_html_page_shows_the_sections_and_loads_nothing() -> None:
    make_feedback()
    html = report_html(build_report(W08)).decode()
    assert "Feedback report: 2015-W08 (16 Feb 2015 to 22 Feb 2015)" in html
    for section in (
        "report-top",
        "report-new",
        "report-rising",
        "report-negative",
        "report-sources",
    ):
        assert f'id="{section}"' in html
    assert "Sync fails after the update." in html
    assert "“Sync fails on device 0”" in html
    assert '<td class="number">+500 %</td>' in html
    assert "src=" not in html and "<link" not in html and "<script" not in html


def pdf_text(pdf: bytes) -> str:
    """Return the text-showing strings of every page stream, decoded from reportlab's
    ASCII85 and Flate filters (ASCII text stays readable in its font subsets)."""
    shown = []
    for match in re.finditer(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        header, data = match.groups()
        if b"ASCII85Decode" in header:
            data = base64.a85decode(data.strip(), adobe=True)
        if b"FlateDecode" in header:
            data = zlib.decompress(data)
        shown += re.findall(rb"\((.*?)\)\s*Tj", data)
    return " ".join(part.decode("latin-1") for part in shown)


@pytest.mark.django_db
def test_the_pdf_has_pages_its_charts_and_the_theme_names() -> None:
    make_feedback()
    pdf = report_pdf(build_report(W08))
    assert pdf.startswith(b"%PDF-")
    pages = re.search(rb"<<[^>]*/Count (\d+)[^>]*/Type /Pages", pdf)
    assert pages is not None and int(pages[1]) >= 1
    # The two charts (each with its transparency mask, a grey image).
    assert len(re.findall(rb"/ColorSpace /DeviceRGB", pdf)) == 2
    text = pdf_text(pdf)
    for name in ("Sync fails", "Budgets", "Login broken", "Rising themes", "App Store"):
        assert name in text


# ---- the archive


@pytest.mark.django_db
def test_an_archived_report_keeps_its_files_when_the_feedback_changes() -> None:
    feedback = make_feedback()
    report = create_report(W08, formats=FORMATS)
    assert report.status == RunStatus.DONE
    before = {
        kind: report_file(report, kind) for kind in ("html", "pdf", "themes_csv", "items_csv")
    }
    assert all(before.values())
    feedback.sync.name = "Renamed afterwards"
    feedback.sync.save()
    feedback.late_sunday_item.delete()
    report.refresh_from_db()
    assert {kind: report_file(report, kind) for kind in before} == before
    assert "Renamed afterwards" in report_html(build_report(W08)).decode()


@pytest.mark.django_db
def test_an_archived_report_records_what_it_was_made_with() -> None:
    feedback = make_feedback()
    report = create_report(W08, ReportScope.of([feedback.store.pk]), formats=["pdf"])
    assert report.parameters["period"]["label"] == "2015-W08 (16 Feb 2015 to 22 Feb 2015)"
    assert report.parameters["period"]["time_zone"] == "Europe/Paris"
    assert report.parameters["sources"] == [{"id": feedback.store.pk, "name": "App Store"}]
    assert report.parameters["project"] == "all"
    assert report.parameters["formats"] == ["pdf"]
    assert report.parameters["items"] == 13
    assert report.parameters["rules"]["rising_min_items"] == 10
    assert report_file(report, "html") == b"" and report_file(report, "pdf").startswith(b"%PDF")
    assert (report.done, report.total) == (2, 2)
