"""Celery tasks of the insights app: thin wrappers that take ids and call plain functions.

They run on the ML queue (settings.CELERY_TASK_ROUTES), whose workers load the models.
"""

from celery import shared_task
from django.db import OperationalError

from insights.analysis import run_analysis, start_scheduled_run
from insights.embedding import embed_items


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
