"""Report schedules: each keeps a django_celery_beat PeriodicTask in step (a crontab in the
schedule's time zone), and the task it runs makes the last full week's report and emails it,
once per schedule and week however often it runs."""

import json
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from feedlens.jobs import JobHeld
from ingestion.models import DataSource
from insights.models import Report, ReportSchedule, RunStatus
from insights.reports.archive import FORMATS, generate_report, new_report
from insights.reports.content import ReportScope
from insights.reports.emails import EmailDelayed, EmailRefused, send_report_email
from insights.reports.period import Period, last_full_week

TASK_NAME = "insights.send_scheduled_report"
# A claim to send older than this belongs to a worker that died while sending: taken over.
# Well above EMAIL_TIMEOUT, so a slow server is not sent to twice.
SENDING_CLAIM_TIMEOUT = timedelta(minutes=15)


def save_schedule(schedule: ReportSchedule, sources: list[DataSource]) -> ReportSchedule:
    """Save a schedule with its sources and bring its PeriodicTask in step; return it."""
    with transaction.atomic():
        schedule.save()
        schedule.sources.set(sources)
        sync_periodic_task(schedule)
    return schedule


def sync_periodic_task(schedule: ReportSchedule) -> PeriodicTask:
    """Create or update the schedule's PeriodicTask: its weekday and time as a crontab in the
    schedule's time zone, enabled as the schedule is. Beat notices the change itself."""
    task = schedule.periodic_task or PeriodicTask(task=TASK_NAME)
    task.name = f"Report schedule {schedule.pk}: {schedule.name}"[:200]
    task.task = TASK_NAME
    task.crontab = _crontab(schedule)
    task.args = json.dumps([schedule.pk])
    task.enabled = schedule.enabled
    task.save()
    if schedule.periodic_task_id != task.pk:
        schedule.periodic_task = task
        schedule.save(update_fields=["periodic_task"])
    return task


def delete_schedule(schedule: ReportSchedule) -> None:
    """Delete the schedule and its PeriodicTask (its archived reports stay)."""
    with transaction.atomic():
        if schedule.periodic_task is not None:
            schedule.periodic_task.delete()
        schedule.delete()


def _crontab(schedule: ReportSchedule) -> CrontabSchedule:
    fields = {
        "minute": str(schedule.time.minute),
        "hour": str(schedule.time.hour),
        "day_of_week": str(schedule.weekday),
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": schedule.time_zone,
    }
    # Not get_or_create: the admin may have made two equal crontabs already.
    return CrontabSchedule.objects.filter(**fields).first() or CrontabSchedule.objects.create(
        **fields
    )


def send_scheduled_report(schedule_id: int, now: datetime | None = None) -> str:
    """Make (or reuse) the schedule's report of the last full week in its time zone and
    email it, unless it was sent already; return what happened: "sent", "already sent" or
    "skipped" (the schedule is gone or disabled). Raises EmailDelayed, or JobHeld while
    another worker makes the report, for the task to retry."""
    now = now or timezone.now()
    schedule = ReportSchedule.objects.filter(pk=schedule_id, enabled=True).first()
    if schedule is None:
        return "skipped"
    report = scheduled_report(schedule, last_full_week(schedule.time_zone, now))
    if not _claim_sending(report, now):
        return "already sent"
    try:
        send_report_email(report, schedule.recipients, schedule.name)
    except (EmailDelayed, EmailRefused) as error:
        Report.objects.filter(pk=report.pk).update(sending_since=None)
        ReportSchedule.objects.filter(pk=schedule.pk).update(
            last_error=f"{now:%Y-%m-%d %H:%M} UTC: {error}"
        )
        raise
    Report.objects.filter(pk=report.pk).update(sent_at=now, sending_since=None)
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_sent_at=now, last_error="")
    return "sent"


def scheduled_report(schedule: ReportSchedule, period: Period) -> Report:
    """Return the schedule's report of the period, done: the archived one if there is one,
    else a new one (a report left unfinished by a worker that died is made again)."""
    existing = Report.objects.filter(
        schedule=schedule, period_start=period.start, period_end=period.end
    ).first()
    if existing is None:
        sources = schedule.sources.values_list("pk", flat=True)
        scope = ReportScope.of(sources, schedule.project_id)
        try:
            existing = new_report(period, scope, FORMATS, schedule.created_by, schedule)
        except IntegrityError:
            # Another run of this task made it a moment ago (one_report_per_schedule_and_period).
            existing = Report.objects.get(
                schedule=schedule, period_start=period.start, period_end=period.end
            )
    if existing.status == RunStatus.FAILED:
        Report.objects.filter(pk=existing.pk).update(status=RunStatus.QUEUED)
    report = generate_report(existing.pk)
    if report.status != RunStatus.DONE:
        # Another run of the task is making it: this one tries again later (the task
        # retries JobHeld), when it is done or its maker's lease has run out.
        raise JobHeld(f"{report} is being made by another worker")
    return report


def _claim_sending(report: Report, now: datetime) -> bool:
    """Mark the report as being sent unless it was sent or another run is sending it;
    return whether this run claimed it (a conditional UPDATE: one of two runs wins)."""
    free = Report.objects.filter(pk=report.pk, sent_at__isnull=True, status=RunStatus.DONE)
    stale = now - SENDING_CLAIM_TIMEOUT
    claimable = free.filter(sending_since__isnull=True) | free.filter(sending_since__lt=stale)
    return bool(claimable.update(sending_since=now))
