"""Semantic search: the query's embedding against every item's, nearest first.

A large install searches the shared index file the analysis run writes
(insights.pipeline.search_index), memory-mapped read-only: no web process holds or
rebuilds the vectors. A small one (no index file) searches exactly, its vectors in an
in-process index (item ids and one float32 matrix of the current embedding model), loaded
once and then brought up to date with only what changed; that exact search is also the
oracle the shared index is tested against. Filters are applied in the database: first on
an over-fetched set of nearest items (enough for broad filters), then, when that set holds
too few allowed items, on every item (a narrow filter, so few ids come back).
"""

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Count, Max, Sum
from django.db.models.expressions import RawSQL

from ingestion.models import FeedbackItem
from insights.dashboards.filters import FeedbackFilters
from insights.models import ItemEmbedding, decode_vector
from insights.pipeline.search_index import MappedIndex, current_version, open_index
from llm.interfaces import TextEmbedder

# Nearest items checked against the filters before falling back to every allowed item:
# at least this many, or OVERFETCH_FACTOR times what the page needs. Measured at 100,000
# items on PostgreSQL: checking 1,000 ids takes ~10 ms, so filters that keep more than ~3%
# of the items are answered from them; narrower ones fall back and fetch under 3,000 ids.
OVERFETCH_MIN = 1000
OVERFETCH_FACTOR = 10
# The buffers grow by 1/GROWTH_DIVISOR of their rows beyond what they must hold.
GROWTH_DIVISOR = 4
# Rows read a query when loading vectors; ids a query when fetching changed items.
LOAD_CHUNK = 2000
ID_CHUNK = 5000


@dataclass(frozen=True)
class Hit:
    item_id: int
    similarity: float


@dataclass(frozen=True)
class Signature:
    """What every ItemEmbedding row adds up to, of any model: it changes when a row is
    added, removed or points at another embedding, and costs one scan of a narrow table."""

    rows: int
    item_id_sum: int
    embedding_id_sum: int
    max_item_id: int


def database_signature() -> Signature:
    totals = ItemEmbedding.objects.aggregate(
        rows=Count("pk"),
        item_id_sum=Sum("item_id"),
        embedding_id_sum=Sum("embedding_id"),
        max_item_id=Max("item_id"),
    )
    return Signature(**{name: int(value or 0) for name, value in totals.items()})


@dataclass(frozen=True)
class Snapshot:
    """The index at one moment, never changed once published: searches read it without a
    lock. Rows whose item was removed or re-embedded stay in the matrix, marked not live."""

    model_name: str
    signature: Signature  # of the ItemEmbedding rows it reflects
    item_ids: np.ndarray  # int64, one per matrix row
    matrix: np.ndarray  # float32 unit rows
    live: np.ndarray  # bool, one per matrix row

    @property
    def size(self) -> int:
        return int(self.live.sum())

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """Return the cosine of vector with each row; rows not live score -inf."""
        if not len(self.item_ids):
            return np.zeros(0, dtype=np.float32)
        scores = self.matrix @ vector.astype(np.float32)
        if not self.live.all():
            scores[~self.live] = -np.inf
        return scores


class VectorIndex:
    """Item vectors of one embedding model, kept in step with ItemEmbedding.

    Thread-safe: one thread at a time brings the index up to date (under a lock) and then
    publishes a new Snapshot; searches use whichever snapshot was current when they began.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        # Every ItemEmbedding row seen, of any model: item id -> embedding id. Comparing it
        # with the database tells what changed without reading any vector.
        self._known: dict[int, int] = {}
        self._row_of: dict[int, int] = {}  # item id -> matrix row, live rows only
        self._capacity_matrix = np.zeros((0, 0), dtype=np.float32)
        self._capacity_ids = np.zeros(0, dtype=np.int64)
        self._live = np.zeros(0, dtype=bool)
        self._rows = 0
        self.rebuilds = 0  # how many times the whole index was loaded (tests and logs)

    def snapshot(self, model_name: str) -> Snapshot:
        """Return the index for model_name, up to date with the database."""
        signature = database_signature()
        current = self._snapshot
        if current and current.model_name == model_name and current.signature == signature:
            return current
        with self._lock:
            # Another thread may have brought it up to date while this one waited.
            current = self._snapshot
            if current is None or current.model_name != model_name:
                self._rebuild(model_name)
            elif current.signature != signature:
                self._update(model_name, current.signature, signature)
            assert self._snapshot is not None
            return self._snapshot

    def _rebuild(self, model_name: str) -> None:
        self.rebuilds += 1
        self._known = dict(ItemEmbedding.objects.values_list("item_id", "embedding_id"))
        self._row_of = {}
        self._capacity_matrix = np.zeros((0, 0), dtype=np.float32)
        self._capacity_ids = np.zeros(0, dtype=np.int64)
        self._live = np.zeros(0, dtype=bool)
        self._rows = 0
        self._append(_vectors(model_name, None))
        self._publish(model_name)

    def _update(self, model_name: str, seen: Signature, signature: Signature) -> None:
        """Apply the rows that changed since the last signature: first try the rows with a
        larger item id (new items, the usual case); if the sums still differ, compare every
        row's embedding id (items removed, re-embedded, or embedded out of order)."""
        newer = dict(
            ItemEmbedding.objects.filter(item_id__gt=seen.max_item_id).values_list(
                "item_id", "embedding_id"
            )
        )
        if _signature_of({**self._known, **newer}) == signature:
            changed, removed = newer, set[int]()
        else:
            changed, removed = self._differences()
        self._drop(changed.keys() | removed)
        for item_id in removed:
            self._known.pop(item_id, None)
        # Rows of another model are known too, so that they do not count as changes again.
        self._known.update(changed)
        self._append(_vectors(model_name, set(changed)))
        if self._rows > 2 * len(self._row_of):
            self._compact()
        self._publish(model_name)

    def _differences(self) -> tuple[dict[int, int], set[int]]:
        """Return the items added or re-embedded since last seen (item id -> embedding id),
        and the ids of those removed."""
        rows = dict(ItemEmbedding.objects.values_list("item_id", "embedding_id"))
        changed = {item: emb for item, emb in rows.items() if self._known.get(item) != emb}
        removed = self._known.keys() - rows.keys()
        return changed, removed

    def _drop(self, item_ids: Iterable[int]) -> None:
        rows = [self._row_of.pop(item_id) for item_id in item_ids if item_id in self._row_of]
        if rows:
            # A copy: published snapshots keep the mask they were given.
            self._live = self._live.copy()
            self._live[rows] = False

    def _append(self, loaded: list[tuple[int, int, np.ndarray]]) -> None:
        if not loaded:
            return
        start, end = self._rows, self._rows + len(loaded)
        self._reserve(end, len(loaded[0][2]))
        item_ids = [item_id for item_id, _, _ in loaded]
        self._capacity_matrix[start:end] = np.stack([vector for _, _, vector in loaded])
        self._capacity_ids[start:end] = item_ids
        live = np.zeros(end, dtype=bool)
        live[:start] = self._live[:start]
        live[start:end] = True
        self._live = live
        self._row_of.update(zip(item_ids, range(start, end), strict=True))
        self._known.update((item_id, embedding_id) for item_id, embedding_id, _ in loaded)
        self._rows = end

    def _reserve(self, rows: int, dimensions: int) -> None:
        """Grow the buffers so that they hold rows, with room to spare: new items are then
        written past the rows a published snapshot sees, without copying the matrix
        (measured at 100,000 items: 1 s with a copy, tens of ms without)."""
        if rows <= len(self._capacity_ids):
            return
        capacity = max(rows + rows // GROWTH_DIVISOR, 1024)
        matrix = np.zeros((capacity, dimensions), dtype=np.float32)
        ids = np.zeros(capacity, dtype=np.int64)
        if self._rows:
            matrix[: self._rows] = self._capacity_matrix[: self._rows]
            ids[: self._rows] = self._capacity_ids[: self._rows]
        self._capacity_matrix, self._capacity_ids = matrix, ids

    def _compact(self) -> None:
        """Copy the live rows into new buffers, once most rows are dead."""
        keep = np.flatnonzero(self._live[: self._rows])
        self._capacity_matrix = self._capacity_matrix[keep]
        self._capacity_ids = self._capacity_ids[keep]
        self._live = np.ones(len(keep), dtype=bool)
        self._rows = len(keep)
        self._row_of = {int(item_id): row for row, item_id in enumerate(self._capacity_ids)}

    def _publish(self, model_name: str) -> None:
        """Make the index as it now is the one searches use. Its signature is that of the
        rows it holds, not the one read before loading them: rows that changed in between
        are then seen as changes by the next call."""
        n = self._rows
        self._snapshot = Snapshot(
            model_name=model_name,
            signature=_signature_of(self._known),
            item_ids=self._capacity_ids[:n],
            matrix=self._capacity_matrix[:n],
            live=self._live[:n],
        )


def _signature_of(known: dict[int, int]) -> Signature:
    return Signature(
        rows=len(known),
        item_id_sum=sum(known),
        embedding_id_sum=sum(known.values()),
        max_item_id=max(known, default=0),
    )


def _vectors(model_name: str, item_ids: set[int] | None) -> list[tuple[int, int, np.ndarray]]:
    """Return (item id, embedding id, vector) of the given items (None: all) embedded by
    model_name; items embedded by another model are left out."""
    rows = ItemEmbedding.objects.filter(embedding__model_name=model_name).order_by()
    fields = ("item_id", "embedding_id", "embedding__vector")
    chunks: list[Iterable[Any]]
    if item_ids is None:
        chunks = [rows.values_list(*fields).iterator(chunk_size=LOAD_CHUNK)]
    else:
        ids = sorted(item_ids)
        chunks = [
            rows.filter(item_id__in=ids[start : start + ID_CHUNK]).values_list(*fields)
            for start in range(0, len(ids), ID_CHUNK)
        ]
    return [
        (item_id, embedding_id, decode_vector(vector))
        for chunk in chunks
        for item_id, embedding_id, vector in chunk
    ]


def nearest(
    snapshot: Snapshot, vector: np.ndarray, limit: int, filters: FeedbackFilters | None = None
) -> list[Hit]:
    """Return up to limit hits, nearest first, among the items the filters allow."""
    scores = snapshot.scores(vector)
    if filters is None or not filters.is_active:
        return _hits(snapshot, scores, _top(scores, limit))
    wanted = min(snapshot.size, max(OVERFETCH_MIN, OVERFETCH_FACTOR * limit))
    candidates = _top(scores, wanted)
    allowed = _allowed(filters, snapshot.item_ids[candidates].tolist())
    rows = candidates[[int(snapshot.item_ids[row]) in allowed for row in candidates]]
    if len(rows) < limit and wanted < snapshot.size:
        # The nearest items are mostly filtered out: a narrow filter, whose ids are few.
        rows = _top_allowed(snapshot, scores, limit, _allowed(filters, None))
    return _hits(snapshot, scores, rows[:limit])


def _top(scores: np.ndarray, limit: int) -> np.ndarray:
    """Return the rows of the limit highest finite scores, highest first."""
    limit = min(limit, int(np.isfinite(scores).sum()))
    if limit <= 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.argpartition(-scores, limit - 1)[:limit]
    return rows[np.argsort(-scores[rows], kind="stable")]


def _top_allowed(
    snapshot: Snapshot, scores: np.ndarray, limit: int, allowed: set[int]
) -> np.ndarray:
    ids = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
    keep = np.isin(snapshot.item_ids, ids)
    return _top(np.where(keep, scores, -np.inf), limit)


def _allowed(filters: FeedbackFilters, item_ids: list[int] | None) -> set[int]:
    """Return the ids among item_ids (None: all items) that the filters allow."""
    # order_by(): the default ordering would sort every allowed item for nothing.
    items = filters.apply(FeedbackItem.objects.order_by())
    if item_ids is not None:
        items = items.filter(pk__in=_id_list(item_ids))
    return set(items.values_list("pk", flat=True))


def _id_list(item_ids: list[int]) -> list[int] | RawSQL:
    """Return item_ids for an __in lookup: on PostgreSQL as one array parameter rather than
    one parameter each, which binding and planning made 3x slower (1,000 ids: 40 -> 10 ms,
    and the planner then reads the candidates' sentiment rows by key, not all of them)."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (item_ids,))
    return item_ids


def _hits(snapshot: Snapshot, scores: np.ndarray, rows: Iterable[int]) -> list[Hit]:
    return [Hit(int(snapshot.item_ids[row]), float(scores[row])) for row in rows]


_default_index = VectorIndex()


def default_index() -> VectorIndex:
    """Return this process's index, shared by every request."""
    return _default_index


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    indexed: int  # items with an embedding of the current model


def search(
    query: str,
    limit: int,
    filters: FeedbackFilters | None = None,
    index: VectorIndex | None = None,
    *,
    embedder: TextEmbedder,
) -> SearchResult:
    """Return the items nearest to the query's meaning (up to limit, nearest first) among
    those the filters allow, and how many items the index holds: embedder's vectors. The
    shared index file where the run wrote one, else the exact in-process index (index: that
    one, given)."""
    shared = _shared_indexes.current(embedder.name) if index is None else None
    if shared is not None:
        vector = embedder.embed([query])[0]
        return SearchResult(nearest_shared(shared, vector, limit, filters), shared.size)
    snapshot = (index or default_index()).snapshot(embedder.name)
    if not snapshot.size:
        return SearchResult([], 0)
    vector = embedder.embed([query])[0]
    return SearchResult(nearest(snapshot, vector, limit, filters), snapshot.size)


class SharedIndexes:
    """This process's views of the shared index files, one per embedding model: the
    current version, opened again when a run has made a newer one current."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, MappedIndex] = {}

    def current(self, model_name: str) -> MappedIndex | None:
        path = current_version(model_name)
        if path is None:
            return None
        opened = self._open.get(model_name)
        if opened is None or opened.path != path:
            with self._lock:
                opened = self._open.get(model_name)
                if opened is None or opened.path != path:
                    opened = self._open[model_name] = open_index(path)
        return opened


_shared_indexes = SharedIndexes()


def nearest_shared(
    shared: MappedIndex, vector: np.ndarray, limit: int, filters: FeedbackFilters | None = None
) -> list[Hit]:
    """nearest's answer from the shared index: its nearest items, over-fetched and checked
    against the filters in the database; for a narrow filter, every allowed item's vector
    read from the index and scored exactly."""
    if filters is None or not filters.is_active:
        ids, similarity = shared.nearest(vector, limit)
        return [Hit(int(pk), float(score)) for pk, score in zip(ids, similarity, strict=True)]
    wanted = min(shared.size, max(OVERFETCH_MIN, OVERFETCH_FACTOR * limit))
    ids, similarity = shared.nearest(vector, wanted)
    allowed = _allowed(filters, ids.tolist())
    hits = [
        Hit(int(pk), float(score))
        for pk, score in zip(ids, similarity, strict=True)
        if int(pk) in allowed
    ]
    if len(hits) >= limit or wanted >= shared.size:
        return hits[:limit]
    everyone = _allowed(filters, None)
    held, vectors = shared.vectors_of(np.fromiter(everyone, dtype=np.int64, count=len(everyone)))
    scores = _cosines(vectors, vector)
    return [Hit(int(held[row]), float(scores[row])) for row in _top(scores, limit)]


def _cosines(vectors: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Cosine of vector with each row (the index's float16 rows are unit length no more)."""
    norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(vector) or 1.0)
    return (vectors @ vector.astype(np.float32)) / np.maximum(norms, 1e-12)
