"""Theme discovery: unit-length embeddings in, a theme label per item out (-1: no theme).

UMAP to 5 dimensions, HDBSCAN with sizes taken from the data size, then two steps: clusters
whose centres nearly coincide in the embedding space are merged, and each leftover item that is
close enough to some theme centre joins the theme most of its nearest clustered neighbours in
the UMAP space belong to. Measured on Banking77 (docs/research/theme-clustering.md): ARI 0.54,
NMI 0.81, 1% unassigned, in under half the time of BERTopic's UMAP + HDBSCAN on the same
embeddings. Plain numpy in and out: no Django here.
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np

NO_THEME = -1
# Cosine between cluster centres above which two clusters are one theme.
MERGE_COSINE = 0.85
# Cosine to the nearest theme centre above which an item gets a theme (else it has none).
ASSIGN_COSINE = 0.5
# A leftover item takes the majority theme of this many nearest clustered items in UMAP space.
LEFTOVER_NEIGHBOURS = 5
# Below this many items there is nothing to cluster.
MIN_ITEMS = 10
# From UMAP's own exact path (it computes every distance below 4,096 items) up to this many
# items, the neighbours UMAP starts from are found exactly, by blocks of matrix products:
# about 1 s at 10,000 items and 3 s at 20,000 here, where pynndescent's approximate search
# first spends about 25 s compiling (numba) in each new worker process, and finds 93-98 % of
# the true neighbours. Beyond this size its speed wins.
UMAP_EXACT_BELOW = 4096
EXACT_NEIGHBOURS_MAX_ITEMS = 20_000
NEIGHBOUR_BLOCK_ROWS = 512  # similarities held at a time: 512 by n floats


@dataclass(frozen=True)
class ClusterParameters:
    n_neighbors: int
    n_epochs: int
    min_cluster_size: int
    min_samples: int

    @classmethod
    def for_size(cls, n: int) -> "ClusterParameters":
        """Scale with the data: themes may be as small as 0.3·√n items (5 at 200, 95 at
        100,000), so their number grows slowly as feedback grows."""
        min_cluster_size = max(5, round(0.3 * math.sqrt(n)))
        return cls(
            n_neighbors=min(15, max(5, n // 20)),
            # Fewer epochs cost ARI below ~2,000 items and save time above.
            n_epochs=100 if n > 2000 else 200,
            min_cluster_size=min_cluster_size,
            min_samples=min(10, min_cluster_size),
        )


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # one theme label per item, NO_THEME for none
    theme_ids: np.ndarray  # the labels in use, in the order of centroids
    centroids: np.ndarray  # unit-length centre of each theme, in embedding space


def discover_themes(vectors: np.ndarray, seed: int | None = None) -> Clustering:
    """Cluster unit-length vectors into themes. A seed makes UMAP repeatable but single-threaded."""
    if len(vectors) < MIN_ITEMS:
        return _clustering(vectors, np.full(len(vectors), NO_THEME))
    import hdbscan  # slow imports: only when clustering runs
    import umap

    params = ClusterParameters.for_size(len(vectors))
    reducer = umap.UMAP(
        n_components=5,
        n_neighbors=params.n_neighbors,
        min_dist=0.0,
        metric="cosine",
        n_epochs=params.n_epochs,
        init="pca",
        low_memory=False,
        random_state=seed,
        precomputed_knn=_precomputed_neighbours(vectors, params.n_neighbors),
    )
    with warnings.catch_warnings():
        # Without pynndescent's index UMAP cannot transform new data; it is never asked to.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        reduced = reducer.fit_transform(vectors)
    labels = hdbscan.HDBSCAN(
        min_cluster_size=params.min_cluster_size,
        min_samples=params.min_samples,
        cluster_selection_method="eom",
    ).fit_predict(reduced)
    labels = _merge_close_clusters(vectors, labels)
    labels = _renumber(_assign_leftovers(vectors, reduced, labels))
    return _clustering(vectors, labels)


def exact_neighbours(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the indices of each unit vector's k nearest vectors (itself among them) and
    their cosine distances, nearest first, as UMAP takes them (int32, float32)."""
    k = min(k, len(vectors))
    indices = np.empty((len(vectors), k), dtype=np.int32)
    distances = np.empty((len(vectors), k), dtype=np.float32)
    for start in range(0, len(vectors), NEIGHBOUR_BLOCK_ROWS):
        block = slice(start, start + NEIGHBOUR_BLOCK_ROWS)
        similarity = vectors[block] @ vectors.T
        nearest = np.argpartition(similarity, -k, axis=1)[:, -k:]
        nearest_similarity = np.take_along_axis(similarity, nearest, axis=1)
        order = np.argsort(-nearest_similarity, axis=1)
        indices[block] = np.take_along_axis(nearest, order, axis=1)
        distances[block] = 1 - np.take_along_axis(nearest_similarity, order, axis=1)
    return indices, np.maximum(distances, 0)  # rounding can make a self-distance -1e-7


def _precomputed_neighbours(
    vectors: np.ndarray, k: int
) -> tuple[np.ndarray | None, np.ndarray | None, None]:
    """UMAP's precomputed_knn: exact neighbours in the size range above, else none (UMAP
    finds them itself)."""
    if not UMAP_EXACT_BELOW <= len(vectors) <= EXACT_NEIGHBOURS_MAX_ITEMS:
        return None, None, None
    indices, distances = exact_neighbours(vectors.astype(np.float32, copy=False), k)
    return indices, distances, None


def assign_to_themes(vectors: np.ndarray, clustering: Clustering) -> np.ndarray:
    """Return the theme of each new vector: the nearest centre if close enough, else NO_THEME."""
    if not len(clustering.theme_ids) or not len(vectors):
        return np.full(len(vectors), NO_THEME)
    similarity = vectors @ clustering.centroids.T
    nearest = similarity.argmax(axis=1)
    labels = clustering.theme_ids[nearest].copy()
    labels[similarity[np.arange(len(vectors)), nearest] < ASSIGN_COSINE] = NO_THEME
    return labels


def _centroids(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array(sorted(set(labels.tolist()) - {NO_THEME}), dtype=int)
    if not len(ids):
        return ids, np.zeros((0, vectors.shape[1]), dtype=vectors.dtype)
    centres = np.stack([vectors[labels == theme].mean(axis=0) for theme in ids])
    return ids, centres / np.linalg.norm(centres, axis=1, keepdims=True)


def _clustering(vectors: np.ndarray, labels: np.ndarray) -> Clustering:
    ids, centres = _centroids(vectors, labels)
    return Clustering(labels=labels, theme_ids=ids, centroids=centres)


def _merge_close_clusters(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Merge clusters whose centres have cosine ≥ MERGE_COSINE (HDBSCAN splits some themes)."""
    ids, centres = _centroids(vectors, labels)
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(centres @ centres.T, 1) >= MERGE_COSINE), strict=True):
        parent[root(int(i))] = root(int(j))
    mapping = {int(ids[i]): int(ids[root(i)]) for i in range(len(ids))}
    mapping[NO_THEME] = NO_THEME
    return np.array([mapping[int(label)] for label in labels])


def _assign_leftovers(vectors: np.ndarray, reduced: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Give leftovers a theme. Which items get one is decided in the embedding space: those with
    a theme centre at cosine ≥ ASSIGN_COSINE. Which theme is decided in the UMAP space that
    HDBSCAN saw: the majority of the item's nearest clustered neighbours there. That beats the
    nearest centre (Banking77: NMI +0.01, ARI +0.02), as themes are not round in embedding space.
    """
    from sklearn.neighbors import NearestNeighbors

    leftovers = np.nonzero(labels == NO_THEME)[0]
    clustered = np.nonzero(labels != NO_THEME)[0]
    if not len(leftovers) or not len(clustered):
        return labels
    leftovers = leftovers[
        assign_to_themes(vectors[leftovers], _clustering(vectors, labels)) != NO_THEME
    ]
    if not len(leftovers):
        return labels
    neighbours = NearestNeighbors(n_neighbors=min(LEFTOVER_NEIGHBOURS, len(clustered)))
    _, nearest = neighbours.fit(reduced[clustered]).kneighbors(reduced[leftovers])
    result = labels.copy()
    result[leftovers] = [np.bincount(row).argmax() for row in labels[clustered][nearest]]
    return result


def _renumber(labels: np.ndarray) -> np.ndarray:
    order = {old: new for new, old in enumerate(sorted(set(labels.tolist()) - {NO_THEME}))}
    order[NO_THEME] = NO_THEME
    return np.array([order[int(label)] for label in labels])
