"""Themes on Banking77: how well each clustering recovers the 77 intents.

Ours is insights.pipeline.themes.clustering.discover_themes. Beside it, on the same
embeddings: BERTopic's
default pipeline (the real package), hdbscan straight on the 384-d vectors (the floor a user
gets without a reduction step), and k-means told the true number of intents (a ceiling: no
user knows it). Items left without a theme count as one extra cluster in ARI and NMI.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from devtools.evaluation.report import Row, Section
from insights.pipeline.themes.clustering import (
    NO_THEME,
    clustering_libraries,
    discover_on_sample,
    discover_themes,
    stratified_sample,
)

Progress = Callable[[int, int], None]

# hdbscan on raw vectors: the minimum cluster size our pipeline picks at 10,000 items.
RAW_HDBSCAN_MIN_CLUSTER_SIZE = 30
# The UMAP warm-up: over 4,096 points, so pynndescent's code is compiled too (UMAP finds
# exact neighbours below that), with few epochs; one transform compiles the query path.
WARM_UP_POINTS = 5000
WARM_UP_EPOCHS = 10
COLUMNS = ("method", "ARI", "NMI", "unassigned", "themes", "seconds")


@dataclass(frozen=True)
class Method:
    name: str
    cluster: Callable[[Sequence[str], np.ndarray], np.ndarray]  # (texts, vectors) -> labels


def clustering_scores(truth: Sequence[object], labels: np.ndarray) -> Row:
    """Return ARI, NMI, the share of items without a theme (label NO_THEME), and the number
    of themes. Unassigned items form one extra cluster: leaving everything unassigned
    scores 0, not a perfect score on the few items that were assigned."""
    labels = np.asarray(labels)
    return {
        "ARI": float(adjusted_rand_score(truth, labels)),
        "NMI": float(normalized_mutual_info_score(truth, labels)),
        "unassigned": float((labels == NO_THEME).mean()) if len(labels) else 0.0,
        "themes": len(set(labels.tolist()) - {NO_THEME}),
    }


def warm_up_umap(dimensions: int = 384) -> float:
    """Compile UMAP's numba code (fit and transform) on random points; return the seconds.
    A worker pays this once at start; timing it inside the first method would be unfair."""
    import umap

    began = time.perf_counter()
    points = np.random.default_rng(0).normal(size=(WARM_UP_POINTS, dimensions))
    reducer = umap.UMAP(n_components=5, metric="cosine", n_epochs=WARM_UP_EPOCHS, low_memory=False)
    reducer.fit_transform(points.astype(np.float32))
    reducer.transform(points[:50].astype(np.float32))
    return time.perf_counter() - began


def ours(_texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    return discover_themes(vectors).labels


def ours_on_half(_texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """The product past FEEDLENS_CLUSTER_SAMPLE points: fitted on a random half, the other
    half given their nearest theme."""
    half = stratified_sample(np.zeros(len(vectors)), len(vectors) // 2, seed=0)
    return discover_on_sample(vectors, half).labels


def bertopic_default(texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """BERTopic's default pipeline (UMAP, HDBSCAN, c-TF-IDF) on the given embeddings."""
    clustering_libraries()  # numba's thread pool set before BERTopic imports UMAP
    from bertopic import BERTopic

    topics, _ = BERTopic().fit_transform(list(texts), vectors)
    return np.asarray(topics)  # BERTopic's outlier topic is -1, as is NO_THEME


def raw_hdbscan(_texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    import hdbscan

    clusterer = hdbscan.HDBSCAN(min_cluster_size=RAW_HDBSCAN_MIN_CLUSTER_SIZE)
    return clusterer.fit_predict(vectors)


def kmeans_given_k(k: int) -> Callable[[Sequence[str], np.ndarray], np.ndarray]:
    from sklearn.cluster import KMeans

    def cluster(_texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        return KMeans(n_clusters=k, n_init=1, random_state=0).fit_predict(vectors)

    return cluster


def theme_methods(k: int, quick: bool) -> list[Method]:
    """Return the methods compared, ours first; quick leaves out raw hdbscan (~150 s)."""
    methods = [
        Method("ours: discover_themes (UMAP + HDBSCAN + merge/assign)", ours),
        Method(
            "ours fitted on a random half, the rest assigned (as past the sample size)",
            ours_on_half,
        ),
        Method("BERTopic default pipeline, same embeddings", bertopic_default),
        Method(
            f"hdbscan on raw 384-d (min_cluster_size={RAW_HDBSCAN_MIN_CLUSTER_SIZE})", raw_hdbscan
        ),
        Method(f"k-means, true k={k} (ceiling)", kmeans_given_k(k)),
    ]
    return [method for method in methods if not (quick and method.cluster is raw_hdbscan)]


def evaluate_themes(
    texts: Sequence[str],
    truth: Sequence[str],
    vectors: np.ndarray,
    quick: bool = False,
    on_progress: Progress | None = None,
) -> Section:
    """Return the themes section: one row per method, timed after a UMAP warm-up."""
    methods = theme_methods(len(set(truth)), quick)
    total = len(methods) + 1
    warm_up = warm_up_umap(vectors.shape[1])
    if on_progress:
        on_progress(1, total)
    rows: list[Row] = []
    for done, method in enumerate(methods, 2):
        began = time.perf_counter()
        labels = method.cluster(texts, vectors)
        seconds = time.perf_counter() - began
        rows.append({"method": method.name, **clustering_scores(truth, labels), "seconds": seconds})
        if on_progress:
            on_progress(done, total)
    notes = [
        f"{len(texts):,} texts, {len(set(truth))} intents; all-MiniLM-L6-v2 embeddings, the "
        "same for every method (embedding time not included).",
        f"UMAP warmed up once before timing ({WARM_UP_POINTS:,} random points, "
        f"{WARM_UP_EPOCHS} epochs, then one transform): {warm_up:.1f} s.",
        "Unassigned items (outliers) count as one extra cluster in ARI and NMI. UMAP is not "
        "seeded (as in the product, where seeding makes it single-threaded), so ours and "
        "BERTopic vary a little from run to run.",
    ]
    if quick:
        notes.append("--quick: hdbscan on the raw embeddings was skipped.")
    return Section("themes", "Themes on Banking77", COLUMNS, rows, notes)
