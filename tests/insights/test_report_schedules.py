"""Report schedules: the form pages, the beat PeriodicTask kept in step, and the email sent
through a real SMTP server (aiosmtpd on 127.0.0.1) once per schedule and week."""

import socket
import time as clock
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from feedlens.celery import app as celery_app
from ingestion.models import DataSource, Project
from insights.models import Report, ReportSchedule
from insights.reports.emails import EmailDelayed
from insights.reports.schedules import save_schedule, send_scheduled_report
from insights.tasks import send_scheduled_report_task
from tests.conftest import require_redis, route_tasks_to, start_worker, wait_until
from tests.factories import signed_in
from tests.insights.report_data import make_feedback
from tests.insights.test_reports import pdf_text

# Monday 23 February 2015, 08:00 in Paris: the last full week there is 2015-W08.
W08_MONDAY_MORNING = datetime(2015, 2, 23, 7, tzinfo=UTC)
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 for the module."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[Inbox, int], settings: Any) -> Inbox:
    """The SMTP server, empty, with Django sending to it."""
    inbox, port = smtp_server
    inbox.messages.clear()
    inbox.recipients.clear()
    settings.EMAIL_BACKEND = SMTP_BACKEND
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_TIMEOUT = 10
    settings.DEFAULT_FROM_EMAIL = "Feedlens <reports@feedlens.test>"
    return inbox


def make_schedule(name: str = "Support weekly", **fields: Any) -> ReportSchedule:
    values = {
        "weekday": 1,
        "time": time(8, 0),
        "time_zone": "Europe/Paris",
        "recipients": ["lead@example.com", "pm@example.com"],
        **fields,
    }
    return save_schedule(ReportSchedule(name=name, **values), [])


def schedule_form(**fields: Any) -> dict[str, Any]:
    """What the new-schedule form posts: a Monday 08:30 report in Paris, and fields."""
    base = {"name": "Help desk weekly", "weekday": "1", "time": "08:30"}
    return {**base, "time_zone": "Europe/Paris", "recipients": "lead@example.com", **fields}


# ---- the pages and the beat schedule


@pytest.mark.django_db
def test_a_support_lead_schedules_a_report_and_beat_gets_a_crontab_in_its_time_zone(
    support_user: User,
) -> None:
    feedback = make_feedback()
    response = signed_in(support_user).post(
        reverse("insights:report_schedule_new"),
        schedule_form(
            sources=[feedback.desk.pk],
            recipients="lead@example.com, pm@example.com\nops@example.com",
            enabled="on",
        ),
    )
    assert response.status_code == 302
    schedule = ReportSchedule.objects.get()
    assert schedule.recipients == ["lead@example.com", "pm@example.com", "ops@example.com"]
    assert list(schedule.sources.all()) == [feedback.desk]
    assert schedule.created_by == support_user
    task = PeriodicTask.objects.get()
    assert (task.task, task.args, task.enabled) == (
        "insights.send_scheduled_report",
        f"[{schedule.pk}]",
        True,
    )
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("30", "8", "1")
    assert str(crontab.timezone) == "Europe/Paris"
    assert schedule.periodic_task == task


@pytest.mark.django_db
def test_changing_or_disabling_a_schedule_changes_its_periodic_task(support_user: User) -> None:
    schedule = make_schedule()
    task_id = schedule.periodic_task_id
    signed_in(support_user).post(
        reverse("insights:report_schedule", args=[schedule.pk]),
        {
            "name": "Support weekly",
            "weekday": "5",
            "time": "17:15",
            "time_zone": "America/New_York",
            "recipients": "lead@example.com",
        },
    )
    task = PeriodicTask.objects.get()
    assert task.pk == task_id
    assert task.enabled is False
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("15", "17", "5")
    assert str(task.crontab.timezone) == "America/New_York"


@pytest.mark.django_db
def test_deleting_a_schedule_removes_its_periodic_task(admin_user: User) -> None:
    schedule = make_schedule()
    response = signed_in(admin_user).post(
        reverse("insights:report_schedule_delete", args=[schedule.pk])
    )
    assert response.status_code == 302
    assert not ReportSchedule.objects.exists()
    assert not PeriodicTask.objects.exists()


@pytest.mark.django_db
def test_a_support_lead_keeps_schedules_and_may_delete_one(support_user: User) -> None:
    schedule = make_schedule()
    client = signed_in(support_user)
    page = client.get(reverse("insights:report_schedule", args=[schedule.pk])).content.decode()
    url = reverse("insights:report_schedule_delete", args=[schedule.pk])
    assert f'action="{url}"' in page
    assert client.post(url).status_code == 302
    assert not PeriodicTask.objects.exists()


@pytest.mark.django_db
def test_recipients_must_be_email_addresses(support_user: User) -> None:
    page = signed_in(support_user).post(
        reverse("insights:report_schedule_new"),
        {
            "name": "Bad",
            "weekday": "1",
            "time": "08:00",
            "time_zone": "UTC",
            "recipients": "lead@example.com\nnot an address",
        },
    )
    assert page.status_code == 200
    assert "Not an email address: not an address" in page.content.decode()
    assert not ReportSchedule.objects.exists() and not PeriodicTask.objects.exists()


@pytest.mark.django_db
def test_product_managers_do_not_see_schedules(pm_user: User) -> None:
    client = signed_in(pm_user)
    assert client.get(reverse("insights:report_schedules")).status_code == 403
    assert client.get(reverse("insights:report_schedule_new")).status_code == 403


@pytest.mark.django_db
def test_the_schedule_list_shows_last_sent_and_last_error(support_user: User) -> None:
    schedule = make_schedule()
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_error="the server said 451")
    page = signed_in(support_user).get(reverse("insights:report_schedules")).content.decode()
    assert "Support weekly" in page and "the server said 451" in page and "Never" in page


# ---- sending


def parts(message: EmailMessage) -> tuple[str, list[tuple[str, str, bytes]]]:
    """Return the message's HTML body and its attachments (name, type, bytes)."""
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    files = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    ]
    return html.get_content(), files


@pytest.mark.django_db
def test_the_report_is_emailed_with_its_html_pdf_and_csv_once_a_week(inbox: Inbox) -> None:
    make_feedback()
    schedule = make_schedule()
    assert send_scheduled_report(schedule.pk, W08_MONDAY_MORNING) == "sent"
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["Subject"] == (
        "Support weekly: feedback report 2015-W08 (16 Feb 2015 to 22 Feb 2015)"
    )
    assert message["From"] == "Feedlens <reports@feedlens.test>"
    assert inbox.recipients[0] == ["lead@example.com", "pm@example.com"]
    html, files = parts(message)
    assert "Feedback report: 2015-W08" in html and "Sync fails on device 0" in html
    report = Report.objects.get(schedule=schedule)
    assert [(name, kind) for name, kind, _ in files] == [
        (f"feedlens-report-{report.pk}-2015-W08.pdf", "application/pdf"),
        (f"feedlens-report-{report.pk}-2015-W08-themes.csv", "text/csv"),
        (f"feedlens-report-{report.pk}-2015-W08-items.csv", "text/csv"),
    ]
    pdf, themes, items = (data for _, _, data in files)
    assert pdf == bytes(report.pdf) and "Sync fails" in pdf_text(pdf)
    assert "Sync fails,12,2,500" in themes.decode("utf-8-sig")
    assert len(items.decode("utf-8-sig").splitlines()) == 23
    schedule.refresh_from_db()
    assert (schedule.last_sent_at, schedule.last_error) == (W08_MONDAY_MORNING, "")

    # Beat runs it again that week (a retry, a second beat): nothing more is sent.
    assert send_scheduled_report(schedule.pk, W08_MONDAY_MORNING) == "already sent"
    assert len(inbox.messages) == 1
    assert Report.objects.filter(schedule=schedule).count() == 1


@pytest.mark.django_db
def test_a_projects_weekly_report_covers_the_sources_it_has_that_week(inbox: Inbox) -> None:
    feedback = make_feedback()
    helpdesk = Project.objects.create(name="Help desk product")
    schedule = make_schedule(project=helpdesk)
    # The help desk joins the project after the schedule was made.
    DataSource.objects.filter(pk=feedback.desk.pk).update(project=helpdesk)

    assert send_scheduled_report(schedule.pk, W08_MONDAY_MORNING) == "sent"

    report = Report.objects.get(schedule=schedule)
    assert report.project == helpdesk
    assert (report.parameters["items"], report.parameters["project"]) == (9, "Help desk product")
    html, _ = parts(inbox.messages[0])
    assert "Help desk product: All sources" in html


@pytest.mark.django_db
def test_a_schedule_refuses_sources_outside_its_project(support_user: User) -> None:
    feedback = make_feedback()
    helpdesk = Project.objects.create(name="Help desk product")
    response = signed_in(support_user).post(
        reverse("insights:report_schedule_new"),
        schedule_form(project=helpdesk.pk, sources=[feedback.store.pk]),
    )
    assert response.status_code == 200
    assert "Not a source of “Help desk product”: App Store" in response.content.decode()
    assert not ReportSchedule.objects.exists()


@pytest.mark.django_db
def test_a_mail_server_that_is_down_is_recorded_and_the_week_is_sent_later(
    inbox: Inbox, settings: Any
) -> None:
    make_feedback()
    schedule = make_schedule()
    real_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nothing listens there
    with pytest.raises(EmailDelayed, match="could not reach the mail server"):
        send_scheduled_report(schedule.pk, W08_MONDAY_MORNING)
    schedule.refresh_from_db()
    assert "could not reach the mail server" in schedule.last_error
    assert schedule.last_sent_at is None
    settings.EMAIL_PORT = real_port
    assert send_scheduled_report(schedule.pk, W08_MONDAY_MORNING) == "sent"
    assert len(inbox.messages) == 1
    schedule.refresh_from_db()
    assert schedule.last_error == ""


@pytest.mark.django_db
def test_a_disabled_or_deleted_schedule_sends_nothing(inbox: Inbox) -> None:
    schedule = make_schedule(enabled=False)
    assert send_scheduled_report(schedule.pk, W08_MONDAY_MORNING) == "skipped"
    assert send_scheduled_report(schedule.pk + 1000, W08_MONDAY_MORNING) == "skipped"
    assert inbox.messages == [] and not Report.objects.exists()


# ---- through beat's task on a real worker


@pytest.fixture(scope="module")
def mail_worker(
    smtp_server: tuple[Inbox, int],
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A real Celery worker of its own that sends email to the test's SMTP server."""
    require_redis()
    _, port = smtp_server
    queue = f"feedlens-test-mail-{uuid.uuid4().hex[:8]}"
    previous = (celery_app.conf.task_default_queue, celery_app.conf.task_routes)
    route_tasks_to(queue)
    log = tmp_path_factory.mktemp("mail-worker") / "worker.log"
    worker = start_worker(
        queue,
        Path(log),
        EMAIL_BACKEND=SMTP_BACKEND,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        DEFAULT_FROM_EMAIL="reports@feedlens.test",
    )
    try:
        yield queue
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        default_queue, routes = previous
        route_tasks_to(default_queue)
        celery_app.conf.task_routes = routes


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_beats_task_emails_the_report_once_on_a_real_worker(
    mail_worker: str, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    inbox.messages.clear()
    first = make_schedule("First")
    second = make_schedule("Second", recipients=["other@example.com"])
    send_scheduled_report_task.delay(first.pk)
    wait_until(lambda: len(inbox.messages) == 1, 120, "the report was not emailed")
    # The same week again, then another schedule: the worker takes them in order, so once
    # the second schedule's message is in, the repeat has run.
    send_scheduled_report_task.delay(first.pk)
    send_scheduled_report_task.delay(second.pk)
    wait_until(lambda: len(inbox.messages) == 2, 120, "the second schedule was not emailed")
    clock.sleep(0.5)
    subjects = [message["Subject"] for message in inbox.messages]
    assert [subject.split(":")[0] for subject in subjects] == ["First", "Second"]
    assert Report.objects.filter(schedule=first).count() == 1
    first.refresh_from_db()
    assert first.last_sent_at is not None
