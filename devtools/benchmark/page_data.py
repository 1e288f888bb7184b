"""Dashboard data at scale without running the pipeline: N synthetic items (the real public
texts, as in synthetic.py) stored with the rows the analysis would write — embeddings, themes,
assignments and sentiment — so that page server times can be measured at 100,000 items in
minutes rather than the hours a 2-core machine needs to analyse them.

A page's server time depends on how many rows it aggregates, filters and pages through, not on
what the vectors or labels say, so the analysis outputs are drawn at random: unit vectors, theme
sizes from a long-tailed distribution, sentiment in airline-tweet proportions, and a long item
in two themes by halves of its text.
"""

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import transaction

from devtools.benchmark.synthetic import SourceText, SyntheticRow, synthetic_rows
from ingestion.models import DataSource, FeedbackItem, ItemKind
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.models import (
    AssignmentMethod,
    ItemEmbedding,
    ItemSentiment,
    ModelVersion,
    NameSource,
    Sentiment,
    SummaryKind,
    TextEmbedding,
    Theme,
    ThemeAssignment,
)
from insights.pipeline.units import SPLIT_ABOVE_CHARS

BATCH_SIZE = 5_000
# A year of feedback: the pages count by day, so how many days the items span matters.
PERIOD = timedelta(weeks=52)
DIMENSIONS = 384  # all-MiniLM-L6-v2's, the default embedder
THEMES = 120
UNASSIGNED_SHARE = 0.05
# Negative / neutral / positive shares of the airline tweets, the largest labeled set.
SENTIMENT_SHARES = (0.63, 0.21, 0.16)
SOURCES = (
    ("Bench app reviews", ItemKind.REVIEW),
    ("Bench support tickets", ItemKind.TICKET),
    ("Bench social posts", ItemKind.SOCIAL_POST),
)
Progress = Callable[[int, int], None]


def fill_page_data(
    sources: Sequence[SourceText], n: int, embedding_model: str, seed: int, progress: Progress
) -> float:
    """Store n synthetic items with embeddings, themes and sentiment in the current (empty)
    database, calling progress(done, n) after each batch, then count them for the pages as
    a run does; return the seconds that counting took."""
    rng = np.random.default_rng(seed)
    rows = synthetic_rows(sources, n, datetime.now(UTC), seed=seed, period=PERIOD)
    stored_sources = [
        DataSource.objects.create(name=name, item_kind=kind, kind="upload")
        for name, kind in SOURCES
    ]
    themes = _themes(rng, embedding_model)
    version = ModelVersion.objects.create(name="bench-synthetic.gguf", sha256="0" * 64)
    for start in range(0, n, BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        with transaction.atomic():
            items = _items(batch, stored_sources, rng)
            _embeddings(items, embedding_model, rng)
            _assignments(items, themes, rng)
            _sentiments(items, version, rng)
        progress(min(start + BATCH_SIZE, n), n)
    _describe_themes(themes)
    began = time.perf_counter()
    rebuild_daily_counts()
    return time.perf_counter() - began


def _themes(rng: np.random.Generator, embedding_model: str) -> list[Theme]:
    return Theme.objects.bulk_create(
        Theme(
            name=f"Bench theme {number}",
            name_source=NameSource.KEYWORDS,
            keywords=[f"keyword{number}", f"word{number}", "bench"],
            centroid=_unit_vectors(rng, 1)[0].tobytes(),
            embedding_model=embedding_model,
        )
        for number in range(1, THEMES + 1)
    )


def _items(
    rows: Sequence[SyntheticRow], sources: list[DataSource], rng: np.random.Generator
) -> list[FeedbackItem]:
    picks = rng.integers(len(sources), size=len(rows))
    stars = rng.integers(1, 6, size=len(rows))
    items = []
    for row, pick, rating in zip(rows, picks, stars, strict=True):
        source = sources[pick]
        items.append(
            FeedbackItem(
                source=source,
                external_id=row.id,
                kind=source.item_kind,
                text=row.text,
                rating=float(rating) if source.item_kind == ItemKind.REVIEW else None,
                created_at=row.date,
                content_hash=row.id,
                metadata={"dataset": row.dataset},
            )
        )
    stored = FeedbackItem.objects.bulk_create(items)
    for source in sources:  # as every store of items does (ingestion.importers.store_items)
        rated = [item.rating for item in stored if item.source == source and item.rating]
        DataSource.objects.widen_rating_range(source.pk, rated)
    return stored


def _unit_vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIMENSIONS)).astype("<f4")
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _embeddings(items: list[FeedbackItem], model: str, rng: np.random.Generator) -> None:
    vectors = _unit_vectors(rng, len(items))
    texts = TextEmbedding.objects.bulk_create(
        TextEmbedding(
            model_name=model, text_hash=item.content_hash, dimensions=DIMENSIONS, vector=v.tobytes()
        )
        for item, v in zip(items, vectors, strict=True)
    )
    ItemEmbedding.objects.bulk_create(
        ItemEmbedding(item=item, embedding=text) for item, text in zip(items, texts, strict=True)
    )


def _assignments(items: list[FeedbackItem], themes: list[Theme], rng: np.random.Generator) -> None:
    """A theme for most items; a long item (more than one unit) is in two, each by one half
    of its text with a sentiment toward it, as the pipeline themes long feedback."""
    # Zipf-like sizes: a few big themes and a long tail, as real feedback has.
    weights = 1.0 / np.arange(1, len(themes) + 1)
    picks = rng.choice(len(themes), size=(len(items), 2), p=weights / weights.sum())
    kept = rng.random(len(items)) >= UNASSIGNED_SHARE
    rows = []
    for item, (first, second), keep in zip(items, picks, kept, strict=True):
        if not keep:
            continue
        if len(item.text) <= SPLIT_ABOVE_CHARS or first == second:
            rows.append(_assignment(item, themes[first], rng))
            continue
        middle = len(item.text) // 2
        rows.append(_assignment(item, themes[first], rng, (0, middle)))
        rows.append(_assignment(item, themes[second], rng, (middle, len(item.text))))
    ThemeAssignment.objects.bulk_create(rows)


def _assignment(
    item: FeedbackItem,
    theme: Theme,
    rng: np.random.Generator,
    span: tuple[int, int] | None = None,
) -> ThemeAssignment:
    start, end = span or (None, None)
    toward = rng.choice(Sentiment.values, p=SENTIMENT_SHARES) if span else ""
    return ThemeAssignment(
        item=item,
        theme=theme,
        similarity=float(rng.uniform(0.4, 0.9)),
        unit_start=start,
        unit_end=end,
        sentiment=str(toward),
        method=AssignmentMethod.CLUSTER,
    )


def _sentiments(items: list[FeedbackItem], version: ModelVersion, rng: np.random.Generator) -> None:
    labels = rng.choice(Sentiment.values, size=len(items), p=SENTIMENT_SHARES)
    ItemSentiment.objects.bulk_create(
        ItemSentiment(
            item=item,
            llm_model=version,
            prompt_version="bench",
            predicted=label,
            confidence=float(rng.uniform(0.4, 1.0)),
            probabilities={str(label): 1.0},
        )
        for item, label in zip(items, labels, strict=True)
    )


def _describe_themes(themes: list[Theme]) -> None:
    """Give each theme its size, dates, representative items and a one-sentence summary, as
    the describing stage would."""
    for theme in themes:
        members = ThemeAssignment.objects.filter(theme=theme).order_by("-similarity")
        first_ids = list(members.values_list("item_id", flat=True)[:5])
        dates = FeedbackItem.objects.filter(theme_assignments__theme=theme).order_by("created_at")
        theme.size = members.count()
        theme.first_seen_at = dates.values_list("created_at", flat=True).first()
        theme.last_seen_at = dates.reverse().values_list("created_at", flat=True).first()
        theme.representative_item_ids = first_ids
        theme.pain_summary = [
            {"text": f"People report problem {theme.pk}.", "item_ids": first_ids[:2]}
        ]
        theme.summary_kind = SummaryKind.GENERATED
    Theme.objects.bulk_update(
        themes,
        [
            "size",
            "first_seen_at",
            "last_seen_at",
            "representative_item_ids",
            "pain_summary",
            "summary_kind",
        ],
    )
