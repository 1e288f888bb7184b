"""The embedding stage: items in, one stored vector per distinct text and model.

A long item is embedded whole (for search and sentiment) and unit by unit (its sentences,
insights.pipeline.units), so that themes are found among the things it talks about. Texts
already embedded by the same model are never embedded again, whichever item they came with.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Length

from ingestion.models import FeedbackItem
from ingestion.normalise import content_hash
from insights.models import ItemEmbedding, TextEmbedding, UnitEmbedding, decode_vector
from insights.pipeline.units import SPLIT_ABOVE_CHARS, Unit, text_units
from llm.interfaces import TextEmbedder


def text_hash(text: str) -> str:
    return content_hash(text, None)


def items_needing_embedding(model_name: str) -> QuerySet[FeedbackItem]:
    """Return items with no embedding from this model, and long items whose units have
    none."""
    by_model = {"item": OuterRef("pk"), "embedding__model_name": model_name}
    embedded = Exists(ItemEmbedding.objects.filter(**by_model))
    units_embedded = Exists(UnitEmbedding.objects.filter(**by_model))
    return FeedbackItem.objects.alias(length=Length("text")).filter(
        ~embedded | (Q(length__gt=SPLIT_ABOVE_CHARS) & ~units_embedded)
    )


def embed_items(item_ids: Iterable[int], embedder: TextEmbedder) -> int:
    """Give each item an embedding from embedder, and each long item's units one; return
    how many texts were newly embedded (the rest were found stored)."""
    items = list(
        items_needing_embedding(embedder.name).filter(pk__in=list(item_ids)).only("id", "text")
    )
    hashes = {item.pk: text_hash(item.text) for item in items}
    units = {
        item.pk: [(unit, text_hash(unit.of(item.text))) for unit in text_units(item.text)]
        for item in items
        if len(item.text) > SPLIT_ABOVE_CHARS
    }
    texts = {hashes[item.pk]: item.text for item in items}
    texts |= {h: unit.of(item.text) for item in items for unit, h in units.get(item.pk, [])}
    stored = _stored_embeddings(embedder.name, set(texts))
    new_texts = {h: text for h, text in texts.items() if h not in stored}
    vectors = embedder.embed(list(new_texts.values()))
    with transaction.atomic():
        stored |= _store_embeddings(embedder, list(new_texts), vectors)
        ItemEmbedding.objects.bulk_create(
            [ItemEmbedding(item_id=pk, embedding_id=stored[h]) for pk, h in hashes.items()],
            update_conflicts=True,
            unique_fields=["item"],
            update_fields=["embedding"],
        )
        _store_units(units, stored)
    return len(new_texts)


def _store_units(units: dict[int, list[tuple[Unit, str]]], stored: dict[str, int]) -> None:
    """Replace the items' unit embeddings (another model's, or none) with these."""
    UnitEmbedding.objects.filter(item_id__in=list(units)).delete()
    UnitEmbedding.objects.bulk_create(
        (
            UnitEmbedding(item_id=pk, start=unit.start, end=unit.end, embedding_id=stored[h])
            for pk, item_units in units.items()
            for unit, h in item_units
        ),
        # Another worker may embed the same item at the same moment; its rows are as good.
        ignore_conflicts=True,
    )


def _stored_embeddings(model_name: str, hashes: set[str]) -> dict[str, int]:
    rows = TextEmbedding.objects.filter(model_name=model_name, text_hash__in=hashes)
    return dict(rows.values_list("text_hash", "id"))


def _store_embeddings(
    embedder: TextEmbedder, hashes: list[str], vectors: np.ndarray
) -> dict[str, int]:
    rows = sorted(zip(hashes, vectors, strict=True), key=lambda row: row[0])
    TextEmbedding.objects.bulk_create(
        [
            TextEmbedding(
                model_name=embedder.name,
                text_hash=h,
                dimensions=embedder.dimensions,
                vector=vector.astype("<f4").tobytes(),
            )
            for h, vector in rows
        ],
        # Another worker may embed the same text at the same moment; its row is as good.
        # In hash order: two workers inserting some of the same texts in different orders
        # deadlocked on the unique index (seen once in the million-item run, 2026-12-06).
        ignore_conflicts=True,
    )
    return _stored_embeddings(embedder.name, set(hashes))


# Items a batch: big enough to keep the model's batches full, small enough to commit often.
EMBED_BATCH_SIZE = 256


def embed_pending(
    embedder: TextEmbedder,
    source_id: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed every item that needs it (of one source, if given) with embedder, batch by
    batch; return how many items were given an embedding. on_progress(done, total) follows
    each batch."""
    return embed_in_batches(pending_embedding(embedder.name, source_id), embedder, on_progress)


def pending_embedding(model_name: str, source_id: int | None = None) -> list[int]:
    """The items that need an embedding from model_name (of one source, if given), shortest
    first: the model pads each batch to its longest text, so batches of texts of one length
    waste nothing. Measured on the benchmark's mixed texts, 1.5-1.7x the throughput of id
    order."""
    pending = items_needing_embedding(model_name)
    if source_id is not None:
        pending = pending.filter(source_id=source_id)
    return list(pending.order_by(Length("text"), "pk").values_list("pk", flat=True))


def embed_in_batches(
    item_ids: Sequence[int],
    embedder: TextEmbedder,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """embed_items, EMBED_BATCH_SIZE items at a time; return how many items were looked at."""
    for start in range(0, len(item_ids), EMBED_BATCH_SIZE):
        embed_items(item_ids[start : start + EMBED_BATCH_SIZE], embedder)
        if on_progress:
            on_progress(min(start + EMBED_BATCH_SIZE, len(item_ids)), len(item_ids))
    return len(item_ids)


def item_vectors(items: QuerySet[FeedbackItem], model_name: str) -> tuple[list[int], np.ndarray]:
    """Return the ids of the items embedded by model_name, in id order, and their vectors
    as one float32 row each (items without such an embedding are left out)."""
    rows = (
        ItemEmbedding.objects.filter(item__in=items, embedding__model_name=model_name)
        .order_by("item_id")
        .values_list("item_id", "embedding__vector")
    )
    keys, vectors = read_vectors([rows], keys=1)
    return keys[:, 0].tolist(), vectors


# Rows read from the database a query round trip.
READ_CHUNK = 2000


def read_vectors(
    queries: list[QuerySet[Any]], keys: int, counted: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Stream the queries' rows (that many integer keys, then a stored vector) into one
    int64 key array and one float32 matrix, in order. counted: sized from the rows' count
    up front, so that the vectors are held once (a list of row arrays stacked at the end
    peaked at 2.3 times the matrix), and grown should rows arrive between the count and the
    read; else (a few rows, where a COUNT query costs more than it saves) from a chunk's
    room, doubled as needed."""
    expected = max(sum(query.count() for query in queries), 1) if counted else READ_CHUNK
    found = np.empty((expected, keys), dtype=np.int64)
    matrix: np.ndarray | None = None
    filled = 0
    for query in queries:
        for *key, raw in query.iterator(chunk_size=READ_CHUNK):
            vector = decode_vector(raw)
            if matrix is None:
                matrix = np.empty((expected, len(vector)), dtype=np.float32)
            if filled == len(matrix):
                found, matrix = _grown(found), _grown(matrix)
            found[filled], matrix[filled] = key, vector
            filled += 1
    if matrix is None:
        return found[:0], np.zeros((0, 0), dtype=np.float32)
    if filled < len(matrix) // 2:  # a few rows: give back the room they did not need
        return found[:filled].copy(), matrix[:filled].copy()
    return found[:filled], matrix[:filled]


def _grown(array: np.ndarray) -> np.ndarray:
    bigger = np.empty((2 * len(array), *array.shape[1:]), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


Span = tuple[int, int]
NO_SPAN = -1  # ThemePoints.starts and ends of an item that is one point


@dataclass(frozen=True)
class ThemePoints:
    """What themes are clustered from: a short item's embedding, a long item's units'.
    Row i is item_ids[i]'s, of its text's span starts[i]:ends[i] (NO_SPAN: the item is
    one point). Arrays, not a Python object per point: a million items are several
    million points."""

    item_ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def items(self) -> int:
        """How many items the points are of."""
        return len(np.unique(self.item_ids))

    def rows(self, rows: np.ndarray) -> "ThemePoints":
        """These rows of the points (indices or a mask), in their order."""
        return ThemePoints(
            self.item_ids[rows], self.starts[rows], self.ends[rows], self.vectors[rows]
        )

    def span(self, point: int) -> Span | None:
        """The span of the item's text the point is, None where it is the item whole."""
        start = int(self.starts[point])
        return None if start == NO_SPAN else (start, int(self.ends[point]))


def theme_points(items: QuerySet[FeedbackItem], model_name: str) -> ThemePoints:
    """Return the points of the items embedded by model_name: each short item's embedding,
    in id order, then each long item's units, by item and start."""
    whole = (
        ItemEmbedding.objects.filter(embedding__model_name=model_name)
        .filter(item__in=items.exclude(units__embedding__model_name=model_name))
        .order_by("item_id")
        .values_list("item_id", Value(NO_SPAN), Value(NO_SPAN), "embedding__vector")
    )
    units = (
        UnitEmbedding.objects.filter(item__in=items, embedding__model_name=model_name)
        .order_by("item_id", "start")
        .values_list("item_id", "start", "end", "embedding__vector")
    )
    keys, vectors = read_vectors([whole, units], keys=3, counted=True)
    item_ids, starts, ends = keys[:, 0], keys[:, 1].copy(), keys[:, 2].copy()
    # A long text of one sentence is one unit: the item whole, with no span to quote.
    found, counts = np.unique(item_ids[starts != NO_SPAN], return_counts=True)
    alone = np.isin(item_ids, found[counts == 1])
    starts[alone], ends[alone] = NO_SPAN, NO_SPAN
    return ThemePoints(item_ids, starts, ends, vectors)


# A theme's point as its assignment names it: (item id, the unit's start or None).
Point = tuple[int, int | None]


def point_vectors(points: Sequence[Point], model_name: str) -> dict[Point, np.ndarray]:
    """The vectors by model_name of these points: an item's own where the start is None,
    else its unit's starting there (points without such a vector are left out)."""
    wanted = set(points)
    found: dict[Point, np.ndarray] = {}
    whole = FeedbackItem.objects.filter(pk__in=[pk for pk, start in wanted if start is None])
    ids, matrix = item_vectors(whole, model_name)
    found.update({(pk, None): vector for pk, vector in zip(ids, matrix, strict=True)})
    rows = UnitEmbedding.objects.filter(
        item_id__in={pk for pk, start in wanted if start is not None},
        embedding__model_name=model_name,
    ).values_list("item_id", "start", "embedding__vector")
    for pk, start, vector in rows.iterator(chunk_size=2000):
        if (pk, start) in wanted:
            found[pk, start] = decode_vector(vector)
    return found


def count_embedded_items(model_name: str, items: QuerySet[FeedbackItem] | None = None) -> int:
    """How many feedback items (of items, where given) have an embedding by the model."""
    embedded = ItemEmbedding.objects.filter(embedding__model_name=model_name)
    return (embedded if items is None else embedded.filter(item__in=items)).count()


def count_points(model_name: str, items: QuerySet[FeedbackItem] | None = None) -> int:
    """How many points all stored feedback (items, where given) is themed from (see
    theme_points)."""
    units = UnitEmbedding.objects.filter(embedding__model_name=model_name)
    whole = ItemEmbedding.objects.filter(embedding__model_name=model_name)
    if items is not None:
        units, whole = units.filter(item__in=items), whole.filter(item__in=items)
    return whole.exclude(item__in=units.values("item_id")).count() + units.count()
