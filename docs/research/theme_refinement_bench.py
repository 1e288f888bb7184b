#!/usr/bin/env python3
"""Refinement experiments on top of Feedlens's theme pipeline (research, not product code).

Starts from the product pipeline (insights/clustering.py: UMAP-5 cosine, HDBSCAN with
min_cluster_size = round(f·√n), merge at centroid cosine >= 0.85, leftovers to the nearest
centroid at cosine >= 0.5) and tries cheap post-processing steps in the 384-d space:
spherical k-means (Lloyd) refinement from the cluster centroids, with and without an
assignment threshold, a second / lower merge, smaller min_cluster_size factors, and a
consensus over 2-3 UMAP runs. See docs/research/theme-clustering.md, section
"Refinement experiments, 2026-11-23".

Run from the repository root with the project venv:
    .venv/bin/python docs/research/theme_refinement_bench.py [--repeats 3] [--product]

Embeddings are cached at $FEEDLENS_EMB_CACHE (default /tmp/banking77-emb.npy); if missing
they are computed with llm.embeddings.load_embedder(""). UMAP is not seeded, as in the
earlier benchmark; BERTopic's clustering stage (UMAP 15/5-d/0.0/cosine + HDBSCAN 10/eom)
is timed in the same process so that times can be compared as a ratio.
"""
# ruff: noqa: E402, S108, RUF001  (env vars must be set before numpy loads; /tmp caches)

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import csv
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

DATA = os.environ.get("FEEDLENS_DATASETS_DIR", "/work/shared/datasets")
EMB_CACHE = os.environ.get("FEEDLENS_EMB_CACHE", "/tmp/banking77-emb.npy")
NO_THEME = -1


# ---------------------------------------------------------------- data and scoring
def load() -> tuple[np.ndarray, np.ndarray]:
    with open(os.path.join(DATA, "banking77", "train.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    if os.path.exists(EMB_CACHE):
        vectors = np.load(EMB_CACHE)
    else:
        from llm.embeddings import load_embedder

        vectors = load_embedder("").embed([r["text"] for r in rows]).astype(np.float32)
        np.save(EMB_CACHE, vectors)
    assert len(vectors) == len(rows)
    _, y = np.unique([r["category"] for r in rows], return_inverse=True)
    return vectors, y


def score(y: np.ndarray, labels: np.ndarray) -> dict:
    """Unassigned items (-1) count as one extra cluster."""
    return dict(
        ari=adjusted_rand_score(y, labels),
        nmi=normalized_mutual_info_score(y, labels),
        unassigned=float((labels == NO_THEME).mean()),
        themes=len(set(labels.tolist()) - {NO_THEME}),
    )


# ---------------------------------------------------------------- 384-d steps
def centroids(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids, inverse = np.unique(labels, return_inverse=True)
    keep = ids != NO_THEME
    one_hot = sparse.csr_matrix(
        (np.ones(len(labels), dtype=vectors.dtype), (inverse, np.arange(len(labels)))),
        shape=(len(ids), len(labels)),
    )
    sums = np.asarray(one_hot @ vectors)[keep]
    return ids[keep], sums / np.linalg.norm(sums, axis=1, keepdims=True)


def merge(vectors: np.ndarray, labels: np.ndarray, threshold: float | None) -> np.ndarray:
    """Union-find over clusters whose centroids have cosine >= threshold."""
    if threshold is None:
        return labels
    ids, centres = centroids(vectors, labels)
    if len(ids) < 2:
        return labels
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(centres @ centres.T, 1) >= threshold), strict=True):
        parent[root(int(i))] = root(int(j))
    lookup = np.full(int(labels.max()) + 2, NO_THEME)
    for i, theme in enumerate(ids):
        lookup[theme] = ids[root(i)]
    return lookup[labels]


def leftovers(vectors: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Unassigned items -> nearest centroid when cosine >= threshold."""
    rest = np.nonzero(labels == NO_THEME)[0]
    if not len(rest):
        return labels
    ids, centres = centroids(vectors, labels)
    if not len(ids):
        return labels
    sim = vectors[rest] @ centres.T
    best = sim.argmax(1)
    ok = sim[np.arange(len(rest)), best] >= threshold
    out = labels.copy()
    out[rest[ok]] = ids[best[ok]]
    return out


def leftovers_umap(
    vectors: np.ndarray,
    labels: np.ndarray,
    reduced: np.ndarray,
    k: int = 5,
    guard: float | None = None,
) -> np.ndarray:
    """Unassigned items -> majority label of their k nearest clustered items in UMAP space.

    guard: items whose cosine to every 384-d centroid is below it stay unassigned (the same
    items the product's leftover step leaves unassigned at 0.5)."""
    from sklearn.neighbors import NearestNeighbors

    rest = np.nonzero(labels == NO_THEME)[0]
    clustered = np.nonzero(labels != NO_THEME)[0]
    if not len(rest) or not len(clustered):
        return labels
    if guard is not None:
        _, centres = centroids(vectors, labels)
        rest = rest[(vectors[rest] @ centres.T).max(1) >= guard]
    k = min(k, len(clustered))
    _, near = NearestNeighbors(n_neighbors=k).fit(reduced[clustered]).kneighbors(reduced[rest])
    out = labels.copy()
    out[rest] = [np.bincount(row).argmax() for row in labels[clustered][near]]
    return out


def refine(
    vectors: np.ndarray, labels: np.ndarray, iterations: int, threshold: float | None
) -> np.ndarray:
    """Spherical k-means (Lloyd) from the current centroids, k kept (empty clusters drop).

    threshold=None: every item to its nearest centroid. Otherwise items whose best cosine is
    below the threshold stay unassigned and do not move the centroids.
    """
    for _ in range(iterations):
        ids, centres = centroids(vectors, labels)
        if not len(ids):
            return labels
        sim = vectors @ centres.T
        best = sim.argmax(1)
        new = ids[best]
        if threshold is not None:
            new[sim[np.arange(len(vectors)), best] < threshold] = NO_THEME
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


# ---------------------------------------------------------------- consensus over runs
def align(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Map each cluster of `other` to the reference cluster it overlaps most."""
    out = np.full(len(other), NO_THEME)
    for theme in set(other.tolist()) - {NO_THEME}:
        members = other == theme
        ref = reference[members]
        ref = ref[ref != NO_THEME]
        if len(ref):
            out[members] = np.bincount(ref).argmax()
    return out


def consensus(runs: list[np.ndarray]) -> np.ndarray:
    """Majority of the runs' labels, aligned to the first run; no majority -> unassigned.

    With two runs this keeps the items both runs agree on (the intersection)."""
    reference = runs[0]
    aligned = np.stack([reference] + [align(reference, r) for r in runs[1:]])
    out = np.full(len(reference), NO_THEME)
    need = len(runs) // 2 + 1
    for label in set(reference.tolist()) - {NO_THEME}:
        votes = (aligned == label).sum(0)
        out[votes >= need] = label
    return out


# ---------------------------------------------------------------- pipelines
def product_umap(n: int):
    import umap

    from insights.pipeline.themes.clustering import ClusterParameters

    p = ClusterParameters.for_size(n)
    return umap.UMAP(
        n_components=5,
        n_neighbors=p.n_neighbors,
        min_dist=0.0,
        metric="cosine",
        n_epochs=p.n_epochs,
        init="pca",
        low_memory=False,
    )


def hdbscan_labels(reduced: np.ndarray, factor: float) -> np.ndarray:
    import hdbscan

    mcs = max(5, round(factor * math.sqrt(len(reduced))))
    return hdbscan.HDBSCAN(
        min_cluster_size=mcs, min_samples=min(10, mcs), cluster_selection_method="eom"
    ).fit_predict(reduced)


def bertopic_stage(vectors: np.ndarray) -> np.ndarray:
    import hdbscan
    import umap

    reduced = umap.UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", low_memory=False
    ).fit_transform(vectors)
    return (
        hdbscan.HDBSCAN(
            min_cluster_size=10,
            metric="euclidean",
            cluster_selection_method="eom",
            prediction_data=True,
        )
        .fit(reduced)
        .labels_
    )


# post-processing variants: name -> function(vectors, hdbscan labels) -> labels
def _product(v, lab, merge_cos=0.85):
    return leftovers(v, merge(v, lab, merge_cos), 0.5)


POSTS = {
    "product (merge 0.85, leftovers 0.5)": lambda v, lab, z: _product(v, lab),
    "merge 0.80, leftovers 0.5": lambda v, lab, z: _product(v, lab, 0.80),
    "merge 0.75, leftovers 0.5": lambda v, lab, z: _product(v, lab, 0.75),
    "(1) + k-means 1 it, all": lambda v, lab, z: refine(v, _product(v, lab), 1, None),
    "(1) + k-means 3 it, all": lambda v, lab, z: refine(v, _product(v, lab), 3, None),
    "(1) + k-means 10 it, all": lambda v, lab, z: refine(v, _product(v, lab), 10, None),
    "(1) + k-means to conv. (≤50), all": lambda v, lab, z: refine(v, _product(v, lab), 50, None),
    "(2) + k-means 3 it, cos ≥ 0.5": lambda v, lab, z: refine(v, _product(v, lab), 3, 0.5),
    "(2) + k-means 10 it, cos ≥ 0.5": lambda v, lab, z: refine(v, _product(v, lab), 10, 0.5),
    "(2) + k-means 10 it, cos ≥ 0.6": lambda v, lab, z: refine(v, _product(v, lab), 10, 0.6),
    "(2) + k-means 3 it from HDBSCAN cores, cos ≥ 0.5": lambda v, lab, z: refine(
        v, merge(v, lab, 0.85), 3, 0.5
    ),
    "(3) k-means 3 it, then merge 0.85": lambda v, lab, z: merge(
        v, refine(v, _product(v, lab), 3, None), 0.85
    ),
    "(3) k-means 3 it, merge 0.80, k-means 3 it": lambda v, lab, z: refine(
        v, merge(v, refine(v, _product(v, lab), 3, None), 0.80), 3, None
    ),
    "(3) merge 0.80 + k-means 3 it": lambda v, lab, z: refine(v, _product(v, lab, 0.80), 3, None),
    "(3) merge 0.80 + k-means 10 it": lambda v, lab, z: refine(v, _product(v, lab, 0.80), 10, None),
    "(3) merge 0.75 + k-means 10 it": lambda v, lab, z: refine(v, _product(v, lab, 0.75), 10, None),
    "(6) leftovers: 5-NN vote in UMAP space, all": lambda v, lab, z: leftovers_umap(
        v, merge(v, lab, 0.85), z
    ),
    "(6) leftovers: 5-NN vote in UMAP space, guard cos ≥ 0.5": lambda v, lab, z: leftovers_umap(
        v, merge(v, lab, 0.85), z, guard=0.5
    ),
    "(6) leftovers: 5-NN vote in UMAP space, guard cos ≥ 0.4": lambda v, lab, z: leftovers_umap(
        v, merge(v, lab, 0.85), z, guard=0.4
    ),
    "(6) leftovers: 1-NN in UMAP space, guard cos ≥ 0.5": lambda v, lab, z: leftovers_umap(
        v, merge(v, lab, 0.85), z, k=1, guard=0.5
    ),
    "(6) 5-NN UMAP leftovers (guard 0.5) + k-means 3 it, cos ≥ 0.5": lambda v, lab, z: refine(
        v, leftovers_umap(v, merge(v, lab, 0.85), z, guard=0.5), 3, 0.5
    ),
}
FACTORS = (0.3, 0.25, 0.2)
# consensus variants are run on the "product" labels of several UMAP runs at factor 0.3
CONSENSUS = {
    "(4) consensus 2 runs, leftovers 0.5": (2, lambda v, lab: leftovers(v, lab, 0.5)),
    "(4) consensus 2 runs + k-means 3 it": (
        2,
        lambda v, lab: refine(v, leftovers(v, lab, 0.5), 3, None),
    ),
    "(4) consensus 3 runs, leftovers 0.5": (3, lambda v, lab: leftovers(v, lab, 0.5)),
    "(4) consensus 3 runs + k-means 3 it": (
        3,
        lambda v, lab: refine(v, leftovers(v, lab, 0.5), 3, None),
    ),
}


def warm_umap() -> float:
    """Compile UMAP/pynndescent numba code once per process (fit on > 4,096 points + transform)."""
    import umap

    x = np.random.default_rng(0).normal(size=(5000, 50)).astype(np.float32)
    t = time.perf_counter()
    u = umap.UMAP(n_components=5, min_dist=0.0, metric="cosine", n_epochs=10, low_memory=False)
    u.fit_transform(x)
    u.transform(x[:50])
    umap.UMAP(n_components=5, metric="cosine", n_epochs=10, init="pca").fit_transform(x[:1000])
    return time.perf_counter() - t


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="/tmp/theme_refinement_results.json")
    ap.add_argument("--product", action="store_true", help="also time discover_themes itself")
    args = ap.parse_args()
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f}s] {msg}", flush=True)

    vectors, y = load()
    n = len(vectors)
    log(f"n={n}, warm-up {warm_umap():.1f}s, load avg {os.getloadavg()}")
    results: dict[str, list[dict]] = {}

    def record(name: str, labels: np.ndarray, seconds: float) -> None:
        results.setdefault(name, []).append(dict(seconds=seconds, **score(y, labels)))

    for rep in range(args.repeats):
        labels, t = timed(bertopic_stage, vectors)
        record("BERTopic stage: UMAP(15, 5-d) + HDBSCAN(10, eom)", labels, t)
        log(f"rep {rep}: BERTopic stage {t:.1f}s")
        if args.product:
            from insights.pipeline.themes.clustering import discover_themes

            clustering, t = timed(discover_themes, vectors)
            record("discover_themes (insights/clustering.py)", clustering.labels, t)
            log(f"rep {rep}: discover_themes {t:.1f}s {score(y, clustering.labels)}")
        runs = []  # product labels at factor 0.3 of each UMAP run, with their times
        for run in range(3):
            reduced, t_umap = timed(product_umap(n).fit_transform, vectors)
            for factor in FACTORS if run == 0 else (0.3,):
                raw, t_hdb = timed(hdbscan_labels, reduced, factor)
                for name, post in POSTS.items():
                    if run and not name.startswith("product"):
                        continue
                    labels, t_post = timed(post, vectors, raw, reduced)
                    if run == 0:
                        record(f"f={factor}: {name}", labels, t_umap + t_hdb + t_post)
                    if factor == 0.3 and name.startswith("product"):
                        runs.append((labels, t_umap + t_hdb + t_post))
            log(f"rep {rep}: UMAP run {run} {t_umap:.1f}s")
        for name, (k, post) in CONSENSUS.items():
            t0 = time.perf_counter()
            labels = post(vectors, consensus([lab for lab, _ in runs[:k]]))
            t = time.perf_counter() - t0 + sum(t for _, t in runs[:k])
            record(f"f=0.3: {name}", labels, t)
        log(f"rep {rep}: load avg {os.getloadavg()}")

    bertopic = float(np.median([r["seconds"] for r in next(iter(results.values()))]))
    summary = []
    for name, runs_ in results.items():
        med = {k: float(np.median([r[k] for r in runs_])) for k in runs_[0]}
        med["nmi_min"] = min(r["nmi"] for r in runs_)
        med["nmi_max"] = max(r["nmi"] for r in runs_)
        med["ratio_to_bertopic"] = med["seconds"] / bertopic
        summary.append(dict(name=name, runs=len(runs_), **med))
    with open(args.out, "w") as f:
        json.dump(dict(summary=summary, raw=results), f, indent=1)
    print("| configuration | ARI | NMI (min–max) | unassigned | themes | s | × BERTopic |")
    print("|---|---|---|---|---|---|---|")
    for s in summary:
        print(
            f"| {s['name']} | {s['ari']:.3f} | {s['nmi']:.3f} ({s['nmi_min']:.3f}–"
            f"{s['nmi_max']:.3f}) | {100 * s['unassigned']:.1f} % | {s['themes']:.0f} | "
            f"{s['seconds']:.1f} | {s['ratio_to_bertopic']:.2f} |"
        )


if __name__ == "__main__":
    main()
