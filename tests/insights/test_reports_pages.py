"""The report pages: the archive and its form, an archived report and its files, by role."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from ingestion.models import DataSource, Project
from insights.models import Report, RunStatus
from insights.reports.archive import generate_report
from tests.conftest import wait_until
from tests.factories import signed_in
from tests.insights.report_data import make_feedback

pytestmark = pytest.mark.django_db

FILE_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "themes_csv": "text/csv; charset=utf-8",
    "items_csv": "text/csv; charset=utf-8",
}


def make_week_report(client: Client, **fields: object) -> Report:
    """Ask for the 2015-W08 report through the form and make it as the worker would."""
    data = {"week": "2015-W08", "time_zone": "Europe/Paris", "formats": ["html", "pdf", "csv"]}
    response = client.post(reverse("insights:report_list"), {**data, **fields})
    assert response.status_code == 302
    report = Report.objects.get()
    assert response.url == reverse("insights:report_detail", args=[report.pk])
    return generate_report(report.pk)


@pytest.mark.parametrize("page", ["insights:report_list", "insights:report_schedules"])
def test_report_pages_need_a_login(client: Client, page: str) -> None:
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_person_without_a_role_sees_no_reports(no_role_user: User) -> None:
    assert signed_in(no_role_user).get(reverse("insights:report_list")).status_code == 403


def test_a_support_lead_makes_a_report_that_waits_for_its_worker(support_user: User) -> None:
    make_feedback()
    client = signed_in(support_user)
    client.post(
        reverse("insights:report_list"),
        {"week": "2015-W08", "time_zone": "Europe/Paris", "formats": ["pdf"]},
    )
    report = Report.objects.get()
    assert (report.status, report.period_start.isoformat()) == (RunStatus.QUEUED, "2015-02-16")
    assert report.created_by == support_user
    page = client.get(reverse("insights:report_detail", args=[report.pk]))
    # The page reloads itself until the worker is done.
    assert page["Refresh"] == "2"
    assert "This page reloads until the report is ready" in page.content.decode()
    status = client.get(reverse("insights:report_status", args=[report.pk])).json()
    assert (status["status"], status["finished"], status["total"]) == ("queued", False, 2)


def test_a_report_on_one_project_is_made_from_the_form(support_user: User) -> None:
    feedback = make_feedback()
    helpdesk = Project.objects.create(name="Help desk product")
    DataSource.objects.filter(pk=feedback.desk.pk).update(project=helpdesk)
    client = signed_in(support_user)

    report = make_week_report(client, project=helpdesk.pk)

    assert report.project == helpdesk and report.parameters["items"] == 9
    listed = client.get(reverse("insights:report_list")).content.decode()
    assert "Help desk product: All sources" in listed


def test_the_archived_report_shows_its_page_and_offers_each_file(support_user: User) -> None:
    feedback = make_feedback()
    client = signed_in(support_user)
    report = make_week_report(client, sources=[feedback.store.pk])
    assert report.status == RunStatus.DONE
    page = client.get(reverse("insights:report_detail", args=[report.pk]))
    text = page.content.decode()
    assert "Refresh" not in page
    assert "Feedback report: 2015-W08" in text and "Sync fails on device 0" in text
    assert "Help desk" not in text.split("report-document", 1)[1]
    for kind, content_type in FILE_TYPES.items():
        url = reverse("insights:report_download", args=[report.pk, kind])
        assert url in text
        download = client.get(url)
        assert download["Content-Type"] == content_type
        assert download["Content-Disposition"].startswith("attachment; filename=")
        assert download.content == bytes(getattr(report, kind))
    pdf = client.get(reverse("insights:report_download", args=[report.pk, "pdf"]))
    assert pdf["Content-Disposition"] == (
        f'attachment; filename="feedlens-report-{report.pk}-2015-W08.pdf"'
    )


def test_a_report_without_a_format_offers_no_such_file(support_user: User) -> None:
    make_feedback()
    client = signed_in(support_user)
    report = make_week_report(client, formats=["csv"])
    assert (
        client.get(reverse("insights:report_download", args=[report.pk, "pdf"])).status_code == 404
    )
    assert client.get(reverse("insights:report_download", args=[report.pk, "x"])).status_code == 404


def test_a_product_manager_reads_reports_but_does_not_make_them(
    support_user: User, pm_user: User
) -> None:
    make_feedback()
    report = make_week_report(signed_in(support_user))
    pm = signed_in(pm_user)
    listing = pm.get(reverse("insights:report_list"))
    assert listing.status_code == 200
    assert 'id="new-report"' not in listing.content.decode()
    assert pm.get(reverse("insights:report_detail", args=[report.pk])).status_code == 200
    refused = pm.post(reverse("insights:report_list"), {"week": "2015-W08", "formats": ["pdf"]})
    assert refused.status_code == 403
    assert Report.objects.count() == 1


def test_the_form_says_what_is_wrong_with_a_period(support_user: User) -> None:
    client = signed_in(support_user)
    url = reverse("insights:report_list")
    base = {"time_zone": "UTC", "formats": ["pdf"]}
    both = client.post(
        url, {**base, "week": "2015-W08", "start": "2015-02-01", "end": "2015-02-03"}
    )
    assert "give either a week or a start and end date, not both" in both.content.decode()
    bad_week = client.post(url, {**base, "week": "2014-W53"})
    assert "2014 has no week 53" in bad_week.content.decode()
    too_long = client.post(url, {**base, "start": "2014-01-01", "end": "2015-06-01"})
    assert "a report covers at most 366 days" in too_long.content.decode()
    assert Report.objects.count() == 0


def test_dates_make_a_report_of_any_length_compared_with_the_days_before(
    support_user: User,
) -> None:
    make_feedback()
    client = signed_in(support_user)
    report = make_week_report(client, week="", start="2015-02-16", end="2015-02-18")
    assert report.parameters["period"]["previous_start"] == "2015-02-13"
    assert report.parameters["items"] == 21


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_worker_makes_the_report_the_page_asked_for(
    celery_worker: str, support_user: User
) -> None:
    make_feedback()
    client = signed_in(support_user)
    client.post(
        reverse("insights:report_list"),
        {"week": "2015-W08", "time_zone": "Europe/Paris", "formats": ["html"]},
    )
    report = Report.objects.get()
    status_url = reverse("insights:report_status", args=[report.pk])
    wait_until(lambda: client.get(status_url).json()["finished"], 120, "the report was not made")
    report.refresh_from_db()
    assert report.status == RunStatus.DONE
    assert b"Sync fails on device 0" in bytes(report.html)
