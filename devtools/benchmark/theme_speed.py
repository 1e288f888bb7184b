"""Theme discovery's speed beside BERTopic's clustering stage, in this process, on the
embeddings the worker stored: the ratio holds on a noisy machine where absolute times don't."""

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from devtools.evaluation.themes import warm_up_umap
from ingestion.models import FeedbackItem
from insights.models import ItemEmbedding
from insights.pipeline.embedding import item_vectors
from insights.pipeline.themes.clustering import NO_THEME, discover_themes

# BERTopic's defaults (bertopic/_bertopic.py, BERTopic.__init__): min_topic_size=10.
BERTOPIC_MIN_CLUSTER_SIZE = 10
# Both methods run once on this many of the vectors before timing, so that neither pays
# numba's first-call compilation of a code path the UMAP warm-up did not reach.
WARM_UP_VECTORS = 500


Cluster = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ClusteringTiming:
    method: str
    seconds: float
    themes: int
    unassigned: float  # share of items without a theme


def stored_vectors() -> np.ndarray:
    """Return every item's stored embedding (the one model the run used), in id order."""
    model = ItemEmbedding.objects.values_list("embedding__model_name", flat=True).first()
    if model is None:
        return np.zeros((0, 0), dtype=np.float32)
    return item_vectors(FeedbackItem.objects.all(), model)[1]


def bertopic_clustering(vectors: np.ndarray) -> np.ndarray:
    """BERTopic's default clustering stage on precomputed embeddings: UMAP to 5-d
    (n_neighbors 15, min_dist 0, cosine) then HDBSCAN (min_cluster_size 10, eom)."""
    import hdbscan
    import umap

    reduced = umap.UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", low_memory=False
    ).fit_transform(vectors)
    return hdbscan.HDBSCAN(
        min_cluster_size=BERTOPIC_MIN_CLUSTER_SIZE,
        metric="euclidean",
        cluster_selection_method="eom",
        prediction_data=True,
    ).fit_predict(reduced)


def _timed(method: str, cluster: Cluster, vectors: np.ndarray) -> ClusteringTiming:
    began = time.perf_counter()
    labels = np.asarray(cluster(vectors))
    seconds = time.perf_counter() - began
    return ClusteringTiming(
        method=method,
        seconds=seconds,
        themes=len(set(labels.tolist()) - {NO_THEME}),
        unassigned=float((labels == NO_THEME).mean()) if len(labels) else 0.0,
    )


def peers_available() -> bool:
    return all(importlib.util.find_spec(name) for name in ("umap", "hdbscan"))


def compare_clustering(vectors: np.ndarray) -> list[ClusteringTiming]:
    """Return ours then BERTopic's clustering stage, timed after a UMAP warm-up and one
    untimed run of each on a few vectors (empty when umap or hdbscan cannot be imported)."""
    if not peers_available() or len(vectors) == 0:
        return []
    warm_up_umap(vectors.shape[1])
    methods: dict[str, Cluster] = {
        "ours: discover_themes": lambda v: discover_themes(v).labels,
        "BERTopic stage: UMAP 5-d + HDBSCAN(10)": bertopic_clustering,
    }
    for cluster in methods.values():
        cluster(vectors[:WARM_UP_VECTORS])
    return [_timed(name, cluster, vectors) for name, cluster in methods.items()]
