"""Celery tasks of the insights app: thin wrappers that take ids and call plain functions.

They run on the ML queue (settings.CELERY_TASK_ROUTES), whose workers load the models.
"""

from celery import shared_task
from django.db import OperationalError

from insights.copy.writing import write_copy
from insights.pipeline.embedding import embed_items
from insights.pipeline.run import run_analysis, start_scheduled_run
from insights.reports.archive import generate_report
from insights.reports.emails import EmailDelayed
from insights.reports.schedules import send_scheduled_report


@shared_task(name="insights.embed_items")
def embed_items_task(item_ids: list[int]) -> int:
    """Embed the items that still need it. Safe to run twice: stored texts are reused."""
    return embed_items(item_ids)


# A database that restarts or fails over is worth waiting for; anything else is a bug to see.
@shared_task(
    name="insights.run_analysis",
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def run_analysis_task(run_id: int) -> str:
    """Carry out an analysis run. Safe to run twice: a finished run is left alone, and an
    interrupted one starts its stages again, which skip what is done."""
    return run_analysis(run_id).status


@shared_task(name="insights.analyse_new_items")
def analyse_new_items_task() -> int | None:
    """Beat: analyse what arrived since the last run (nothing starts while a run is open)."""
    return start_scheduled_run(recluster=False)


@shared_task(name="insights.recluster")
def recluster_task() -> int | None:
    """Beat: cluster everything again, keeping theme identities."""
    return start_scheduled_run(recluster=True)


# Retried like run_analysis: write_copy leaves a draft running when the database goes
# away, and the retry claims it again and starts it from nothing.
@shared_task(
    name="insights.write_copy",
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def write_copy_task(draft_id: int) -> str:
    """Write a copy draft. Safe to run twice: a finished draft is left alone, and an
    interrupted one is written again from the start."""
    return write_copy(draft_id).status


# Reports need no model: settings.CELERY_TASK_ROUTES sends these two to the default queue.
@shared_task(
    name="insights.generate_report",
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def generate_report_task(report_id: int) -> str:
    """Make an archived report's files. Safe to run twice: a finished report is left alone."""
    return generate_report(report_id).status


# Only a mail server that may take the message later is retried, from a minute to half an
# hour apart, six times (about an hour and a half in all); a refusal (a bad address, a
# wrong password) is recorded on the schedule and waits for a person to fix it.
@shared_task(
    name="insights.send_scheduled_report",
    autoretry_for=(EmailDelayed, OperationalError),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=6,
)
def send_scheduled_report_task(schedule_id: int) -> str:
    """Beat: email a schedule's report of the last full week. Safe to run twice: a week's
    report is made once per schedule and sent once (insights.reports.schedules)."""
    return send_scheduled_report(schedule_id)
