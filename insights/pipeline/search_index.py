"""The shared search index: every embedded item's vector of one embedding model in an HNSW
graph file (usearch), written by the analysis run and memory-mapped read-only by each web
process, so that no web process holds or rebuilds the vectors itself.

usearch, not hnswlib or faiss-cpu: it opens a saved index as a read-only view of the file
(`Index.restore(path, view=True)`), so the pages of every web process share one copy in the
operating system's cache; hnswlib loads each index into the process's own memory, and
faiss maps only its inverted-list indexes from disk. Vectors are stored as float16: half
the size of float32, and cosine ranks barely change at 384 dimensions (recall measured in
make bench).

Each write is a new version: a file named for the moment it was made, then a `current`
file naming it, each moved into place whole (os.replace), so a reader sees the old index
or the new, never half of one. A process that still maps an older version keeps reading it
(the file's pages stay until it lets go) and opens the newer one on its next search.
Below FEEDLENS_SEARCH_INDEX_MIN_ITEMS items no file is written and search is exact
(insights.dashboards.search), which is also the oracle the index is tested against.
"""

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from insights.models import ItemEmbedding
from insights.pipeline.embedding import READ_CHUNK, read_vectors
from llm.cores import available_cores

if TYPE_CHECKING:
    from usearch.index import Index

CURRENT = "current"
SUFFIX = ".usearch"
# Versions kept besides the current one, for readers that opened them a moment ago.
KEPT_VERSIONS = 1
# Vectors added to the graph at a time while streaming them from the database.
ADD_BATCH = 10 * READ_CHUNK
# The graph and its search, measured on embedding-like vectors (devtools.benchmark.
# search_scale), recall@10 against exact search. With usearch's default 16 links a node:
# at 100,000, 0.915 / 0.95 / 0.985 / 0.99 keeping 64 / 128 / 256 / 512 candidates (0.5 to
# 2.6 ms a query); at 1,000,000, 0.73 / 0.86 / 0.91 / 0.91 / 0.92 at 256 to 4,096 (3.7 to
# 27 ms): past 1,024 candidates the graph, not the search, limits recall. With 32 links: at
# 100,000, 0.95 / 0.985 at 64 / 128; at 1,000,000, 0.92 / 0.95 / 0.965 at 256 / 512 / 1,024
# (9.4 ms), for a build about a third longer (37 s against 27 s at 100,000).
GRAPH_LINKS = 32
SEARCH_EXPANSION = 1024


def index_folder(model_name: str) -> Path:
    """The folder of one embedding model's index versions."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("-") or "model"
    return Path(settings.FEEDLENS_SEARCH_INDEX_DIR) / slug


def current_version(model_name: str) -> Path | None:
    """The newest written version of the model's index, or None."""
    try:
        name = (index_folder(model_name) / CURRENT).read_text().strip()
    except OSError:
        return None
    path = index_folder(model_name) / name
    return path if name and path.exists() else None


def write_search_index(
    model_name: str, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Write a new version of the model's index with every item it embedded, and make it
    current; return how many items it holds (0, nothing written and no version current,
    below FEEDLENS_SEARCH_INDEX_MIN_ITEMS: search is exact there)."""
    rows = ItemEmbedding.objects.filter(embedding__model_name=model_name)
    total = rows.count()
    if total < settings.FEEDLENS_SEARCH_INDEX_MIN_ITEMS:
        # Fewer items now (or a higher threshold): an older file would answer for ever.
        (index_folder(model_name) / CURRENT).unlink(missing_ok=True)
        return 0
    ordered = rows.order_by("item_id").values_list("item_id", "embedding__vector")
    index: Index | None = None
    last = -1
    while True:
        # Keyset chunks: the vectors are held a batch at a time, never all at once.
        keys, vectors = read_vectors([ordered.filter(item_id__gt=last)[:ADD_BATCH]], keys=1)
        if not len(keys):
            break
        if index is None:
            index = new_index(vectors.shape[1])
        index.add(keys[:, 0], vectors, threads=available_cores())
        last = int(keys[-1, 0])
        if on_progress:
            on_progress(min(len(index), total), total)
    if index is None:
        return 0
    _save_as_current(index, model_name)
    return len(index)


def new_index(dimensions: int) -> "Index":
    """An empty index as the product builds it: cosine, vectors stored as float16 (the
    same recall as float32 there, half the file), GRAPH_LINKS links a node, 128
    candidates while adding (usearch's default), SEARCH_EXPANSION while searching."""
    from usearch.index import Index  # slow import: only when an index is written

    return Index(
        ndim=dimensions,
        metric="cos",
        dtype="f16",
        connectivity=GRAPH_LINKS,
        expansion_search=SEARCH_EXPANSION,
    )


def save_version(index: "Index", folder: Path) -> Path:
    """Save the index into folder as a new version, moved into place whole; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}{SUFFIX}"
    partial = folder / f".{name}.partial"
    index.save(str(partial))
    os.replace(partial, folder / name)
    return folder / name


def _save_as_current(index: "Index", model_name: str) -> None:
    folder = index_folder(model_name)
    saved = save_version(index, folder)
    pointer = folder / f".{CURRENT}.partial"
    pointer.write_text(saved.name)
    os.replace(pointer, folder / CURRENT)
    _remove_old_versions(folder, keep=saved.name)


def _remove_old_versions(folder: Path, keep: str) -> None:
    """Remove all but the newest KEPT_VERSIONS older versions: a process mapping one of
    those keeps its pages until it opens the current one."""
    older = sorted((path for path in folder.glob(f"*{SUFFIX}") if path.name != keep), reverse=True)
    for path in older[KEPT_VERSIONS:]:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class MappedIndex:
    """One version of a model's index, memory-mapped read-only."""

    path: Path
    index: "Index"  # a view of the file

    @property
    def size(self) -> int:
        return len(self.index)

    def nearest(self, vector: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the item ids of the count nearest vectors and their cosine similarity,
        nearest first (approximate: HNSW)."""
        count = min(count, self.size)
        if count <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        matches = self.index.search(vector.astype(np.float32), count)
        return matches.keys.astype(np.int64), (1 - matches.distances).astype(np.float32)

    def vectors_of(self, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the ids among item_ids that the index holds and their vectors (float32)."""
        held = item_ids[self.index.contains(item_ids)]
        if not len(held):
            return held, np.zeros((0, self.index.ndim), dtype=np.float32)
        found = self.index.get(held, dtype="f32")
        rows = found if isinstance(found, tuple) else (found,)
        return held, np.vstack([row for row in rows if row is not None])


def open_index(path: Path) -> MappedIndex:
    from usearch.index import Index

    index = Index.restore(str(path), view=True)
    if index is None:
        raise OSError(f"{path} is not a search index")
    # A search setting, set on each opening (usearch has the setter; its stub reads as without).
    index.expansion_search = SEARCH_EXPANSION  # type: ignore[misc]
    return MappedIndex(path, index)
