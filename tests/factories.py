"""Small factories the tests share: feedback items, themes holding them, and their sentiment."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.test import Client

from ingestion.models import DataSource, FeedbackItem
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.models import ItemSentiment, ModelVersion, Theme, ThemeAssignment

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# The day items are written on unless a test says otherwise.
DEFAULT_WHEN = datetime(2026, 11, 2, 12, tzinfo=UTC)


def stand_in_model_version() -> ModelVersion:
    """A model file row for sentiment a test writes itself (no model ran)."""
    return ModelVersion.objects.get_or_create(name="model.gguf", sha256="0" * 64)[0]


def add_items(
    *texts: str,
    source: str | DataSource = "App Store",
    kind: str = "review",
    when: datetime | None = DEFAULT_WHEN,
    rating: float | None = None,
    metadata: dict[str, object] | None = None,
) -> list[FeedbackItem]:
    """Store one item per text in the source (made by name if need be), each with the
    metadata given."""
    if isinstance(source, str):
        source = DataSource.objects.get_or_create(name=source)[0]
    items = [
        FeedbackItem.objects.create(
            source=source,
            kind=kind,
            text=text,
            rating=rating,
            content_hash=uuid.uuid4().hex,
            created_at=when,
            metadata=metadata or {},
        )
        for text in texts
    ]
    if rating is not None:  # as every store of items does (ingestion.importers.store_items)
        DataSource.objects.widen_rating_range(source.pk, [rating])
    rebuild_daily_counts()  # as the product does with what it writes
    return items


def add_item_ids(*texts: str, **options: Any) -> list[int]:
    """add_items, returning the ids (what stage functions take)."""
    return [item.pk for item in add_items(*texts, **options)]


def make_theme(
    name: str,
    items: Sequence[FeedbackItem] = (),
    labels: Sequence[str] | None = None,
    **fields: object,
) -> Theme:
    """Make a live theme holding the items, nearest the centre in the order given; with
    labels, each item is also predicted that sentiment. fields override the theme's own
    (size defaults to the number of items, the centre to a flat vector)."""
    fields.setdefault("centroid", np.ones(384, dtype="<f4").tobytes())
    fields.setdefault("embedding_model", EMBEDDING_MODEL)
    fields.setdefault("size", len(items))
    theme = Theme.objects.create(name=name, **fields)  # type: ignore[arg-type]
    for position, item in enumerate(items):
        ThemeAssignment.objects.create(
            item=item, theme=theme, method="cluster", similarity=0.9 - position / 1000
        )
    if labels is not None:
        version = stand_in_model_version()
        ItemSentiment.objects.bulk_create(
            ItemSentiment(item=item, llm_model=version, prompt_version="v", predicted=label)
            for item, label in zip(items, labels, strict=True)
        )
    rebuild_daily_counts()  # as a run does after writing themes and sentiment
    return theme


class TopicVectors:
    """Unit vectors scattered around random topic directions: points whose clusters are
    known, for clustering tests."""

    def __init__(self, topics: int, dimensions: int, spread: float, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.directions = self.rng.normal(size=(topics, dimensions))
        self.spread = spread

    def near(self, topic: int) -> np.ndarray:
        noise = self.rng.normal(scale=self.spread, size=self.directions.shape[1])
        vector = self.directions[topic] + noise
        return vector / np.linalg.norm(vector)


def signed_in(user: User) -> Client:
    """A test client signed in as the person."""
    client = Client()
    client.force_login(user)
    return client
