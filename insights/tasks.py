"""Celery tasks of the insights app: thin wrappers that take ids and call plain functions."""

from celery import shared_task

from insights.embedding import embed_items


@shared_task(name="insights.embed_items")
def embed_items_task(item_ids: list[int]) -> int:
    """Embed the items that still need it. Safe to run twice: stored texts are reused."""
    return embed_items(item_ids)
