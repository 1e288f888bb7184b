#!/usr/bin/env python3
"""NMI 0.82 attempts on top of insights.pipeline.themes.clustering.discover_themes (research, not product code).

Each repeat fits the UMAP variants once (unseeded, as in the product) and then runs every
HDBSCAN / post-processing variant on that reduction, so variants of one repeat differ by what
follows UMAP only. Scores: sklearn ARI and arithmetic NMI over all 10,003 Banking77 items,
unassigned (-1) as one extra cluster. See docs/research/theme-clustering.md, section
"NMI 0.82 attempts (2026-12-01)".

    nice -n 19 .venv/bin/python docs/research/theme_nmi_bench.py --repeats 3 [--diagnose]

Embeddings cached at /tmp/b77/embeddings.npy (computed with llm.embeddings on first run).
"""
# ruff: noqa: E402, S108, T201

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
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from insights.pipeline.themes import clustering as C  # noqa: N812

DATA = os.environ.get("FEEDLENS_DATASETS_DIR", "/work/shared/datasets")
CACHE = Path("/tmp/b77")
NO_THEME = -1


def load() -> tuple[np.ndarray, np.ndarray]:
    with open(os.path.join(DATA, "banking77", "train.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    CACHE.mkdir(exist_ok=True)
    path = CACHE / "embeddings.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        from llm.embeddings import load_embedder

        began = time.perf_counter()
        vectors = load_embedder("").embed([r["text"] for r in rows]).astype(np.float32)
        print(f"embedded in {time.perf_counter() - began:.0f} s", flush=True)
        np.save(path, vectors)
    _, y = np.unique([r["category"] for r in rows], return_inverse=True)
    return vectors, y


def score(y: np.ndarray, labels: np.ndarray) -> dict:
    return dict(
        ari=adjusted_rand_score(y, labels),
        nmi=normalized_mutual_info_score(y, labels),
        unassigned=float((labels == NO_THEME).mean()),
        themes=len(set(labels.tolist()) - {NO_THEME}),
    )


# ---------------------------------------------------------------- pipeline pieces
def umap_reduce(vectors, n_neighbors, n_components=5, n_epochs=100, min_dist=0.0):
    import umap

    return umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric="cosine",
        n_epochs=n_epochs,
        init="pca",
        low_memory=False,
    ).fit_transform(vectors)


def hdb(reduced, mcs, ms, method="eom", prediction_data=False, eps=0.0):
    import hdbscan

    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=mcs,
        min_samples=ms,
        cluster_selection_method=method,
        prediction_data=prediction_data,
        cluster_selection_epsilon=eps,
    )
    return clusterer, clusterer.fit_predict(reduced)


def post(vectors, reduced, labels):
    """The product's steps after HDBSCAN: merge at 0.85, leftovers by 5-NN vote in UMAP."""
    labels = C._merge_close_clusters(vectors, labels)
    return C._renumber(C._assign_leftovers(vectors, reduced, labels))


def split_large(vectors, reduced, labels, mcs, ms, size_factor=2.0, method="eom"):
    """Second HDBSCAN pass inside each cluster much larger than the median theme (size >
    size_factor x median): if HDBSCAN finds >= 2 clusters in its UMAP points, split it, the
    sub-cluster noise going to the sub-cluster most of its 5 nearest members belong to."""
    import hdbscan
    from sklearn.neighbors import NearestNeighbors

    ids, counts = np.unique(labels[labels != NO_THEME], return_counts=True)
    if not len(ids):
        return labels
    limit = size_factor * np.median(counts)
    result = labels.copy()
    next_id = labels.max() + 1
    for theme, count in zip(ids, counts, strict=True):
        if count <= limit or count < 2 * mcs:
            continue
        members = np.nonzero(labels == theme)[0]
        sub = hdbscan.HDBSCAN(
            min_cluster_size=mcs, min_samples=ms, cluster_selection_method=method
        ).fit_predict(reduced[members])
        found = set(sub.tolist()) - {NO_THEME}
        if len(found) < 2:
            continue
        kept = sub != NO_THEME
        if (~kept).any():
            nn = NearestNeighbors(n_neighbors=min(5, kept.sum())).fit(reduced[members][kept])
            _, near = nn.kneighbors(reduced[members][~kept])
            sub[~kept] = [np.bincount(row).argmax() for row in sub[kept][near]]
        for s in sorted(found):
            result[members[sub == s]] = next_id
            next_id += 1
    # A split part that is as close as 0.85 to another theme is merged back.
    return C._renumber(C._merge_close_clusters(vectors, result))


def soft_leftovers(vectors, clusterer, labels_raw):
    """Leftovers (guard cos >= 0.5) to their argmax HDBSCAN membership, then merge."""
    import hdbscan

    membership = hdbscan.all_points_membership_vectors(clusterer)
    labels = labels_raw.copy()
    noise = labels == NO_THEME
    labels[noise] = membership[noise].argmax(axis=1)
    # merge on the HDBSCAN labels (noise still -1), then map soft labels through the merge
    merged = C._merge_close_clusters(vectors, labels_raw)
    mapping = {}
    for raw, m in zip(labels_raw[~noise], merged[~noise], strict=True):
        mapping[int(raw)] = int(m)
    out = np.array([mapping.get(int(v), int(v)) for v in labels])
    guard = C.assign_to_themes(vectors[noise], C._clustering(vectors, merged)) != NO_THEME
    idx = np.nonzero(noise)[0]
    out[idx[~guard]] = NO_THEME
    return C._renumber(out)


# ---------------------------------------------------------------- diagnosis
def diagnose(y, labels, raw):
    """Where is NMI lost: impure themes, split intents, leftovers."""
    base = score(y, labels)["nmi"]
    # oracle split: each theme split by true intent
    split = np.where(labels == NO_THEME, -1, labels * 1000 + y)
    # oracle merge: themes with the same majority intent merged
    maj = {}
    for t in set(labels.tolist()) - {NO_THEME}:
        maj[t] = np.bincount(y[labels == t]).argmax()
    merged = np.array([maj.get(int(t), -1) if t != NO_THEME else -1 for t in labels])
    # oracle leftovers: HDBSCAN noise items given their majority theme's true intent's theme
    impure = []
    for t in sorted(maj):
        m = labels == t
        counts = np.bincount(y[m], minlength=y.max() + 1)
        top = np.argsort(counts)[::-1][:3]
        purity = counts[top[0]] / m.sum()
        if purity < 0.7:
            impure.append((int(t), int(m.sum()), round(float(purity), 2),
                           [(int(i), int(counts[i])) for i in top if counts[i]]))
    # intents spread over several themes
    spread = []
    for intent in range(y.max() + 1):
        m = y == intent
        counts = np.bincount(labels[m] + 1)
        share = counts.max() / m.sum()
        if share < 0.6:
            spread.append((intent, int(m.sum()), round(float(share), 2)))
    print(json.dumps(dict(
        nmi=round(base, 4),
        oracle_split_nmi=round(score(y, split)["nmi"], 4),
        oracle_merge_nmi=round(score(y, merged)["nmi"], 4),
        hdbscan_noise=round(float((raw == NO_THEME).mean()), 3),
        impure_themes=len(impure), impure_items=sum(i[1] for i in impure),
        impure=impure[:15], intents_spread=len(spread), spread=spread[:15],
    )), flush=True)


def guard_check(vectors, y, repeats):
    """Fresh unseeded UMAP runs: eom / leaf x leftover guard cosine 0.5 (product) / 0.4 / 0."""
    results = defaultdict(list)
    for _ in range(repeats):
        began = time.perf_counter()
        reduced = umap_reduce(vectors, 15)
        t_red = time.perf_counter() - began
        for method in ("eom", "leaf"):
            _, raw = hdb(reduced, 30, 10, method=method)
            merged = C._merge_close_clusters(vectors, raw)
            for guard in (0.5, 0.4, 0.0):
                C.ASSIGN_COSINE = guard
                labels = C._renumber(C._assign_leftovers(vectors, reduced, merged))
                C.ASSIGN_COSINE = 0.5
                results[f"{method} guard {guard}"].append(dict(score(y, labels), seconds=t_red))
    return results


# ---------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--diagnose", action="store_true")
    parser.add_argument("--guards", action="store_true", help="only the leftover-guard check")
    parser.add_argument("--only", default="", help="comma list of reducer names")
    parser.add_argument("--out", default=str(CACHE / "nmi_results.json"))
    args = parser.parse_args()

    vectors, y = load()
    n = len(vectors)
    params = C.ClusterParameters.for_size(n)
    mcs, ms = params.min_cluster_size, params.min_samples
    from devtools.evaluation.themes import warm_up_umap

    print(f"warm-up {warm_up_umap(vectors.shape[1]):.0f} s; n={n} mcs={mcs} ms={ms}", flush=True)

    reducers = {
        "umap5_nn15": dict(n_neighbors=15),
        "umap5_nn10": dict(n_neighbors=10),
        "umap5_nn30": dict(n_neighbors=30),
        "umap10_nn15": dict(n_neighbors=15, n_components=10),
    }
    if args.only:
        reducers = {k: v for k, v in reducers.items() if k in args.only.split(",")}
    results = defaultdict(list)
    if args.guards:
        results = guard_check(vectors, y, args.repeats)
        args.repeats = 0

    def record(name, labels, seconds):
        row = dict(score(y, labels), seconds=seconds)
        results[name].append(row)
        print(f"  {name:60s} ARI {row['ari']:.3f} NMI {row['nmi']:.4f} "
              f"un {row['unassigned']:.3f} th {row['themes']} {seconds:.2f}s", flush=True)

    for repeat in range(args.repeats):
        print(f"repeat {repeat}", flush=True)
        began = time.perf_counter()
        labels = C.discover_themes(vectors).labels
        record("discover_themes (product)", labels, time.perf_counter() - began)
        for rname, rkw in reducers.items():
            began = time.perf_counter()
            reduced = umap_reduce(vectors, **rkw)
            t_red = time.perf_counter() - began
            np.save(CACHE / f"reduced_{rname}_{repeat}.npy", reduced)
            for hname, hkw in {
                "eom": dict(mcs=mcs, ms=ms),
                "leaf": dict(mcs=mcs, ms=ms, method="leaf"),
            }.items():
                began = time.perf_counter()
                clusterer, raw = hdb(reduced, prediction_data=(hname == "eom"), **hkw)
                t_hdb = time.perf_counter() - began
                began = time.perf_counter()
                base = post(vectors, reduced, raw)
                t_post = time.perf_counter() - began
                record(f"{rname} {hname} product-post", base, t_red + t_hdb + t_post)
                if args.diagnose and hname == "eom" and rname == "umap5_nn15":
                    diagnose(y, base, raw)
                for factor in (2.0, 3.0):
                    began = time.perf_counter()
                    lab = split_large(vectors, reduced, base, mcs, ms, size_factor=factor)
                    record(f"{rname} {hname} product-post + split>{factor}xmedian", lab,
                           t_red + t_hdb + t_post + time.perf_counter() - began)
                if hname == "eom":
                    began = time.perf_counter()
                    lab = soft_leftovers(vectors, clusterer, raw)
                    record(f"{rname} {hname} soft-membership leftovers", lab,
                           t_red + t_hdb + time.perf_counter() - began)
        Path(args.out).write_text(json.dumps(results, indent=1))

    print("\nsummary (mean over repeats; NMI sd)")
    for name, rows in results.items():
        nmi = np.array([r["nmi"] for r in rows])
        print(f"| {name} | {np.mean([r['ari'] for r in rows]):.3f} | {nmi.mean():.4f} ± "
              f"{nmi.std(ddof=1) if len(nmi) > 1 else 0:.4f} | "
              f"{100 * np.mean([r['unassigned'] for r in rows]):.1f} % | "
              f"{np.mean([r['themes'] for r in rows]):.0f} | "
              f"{np.median([r['seconds'] for r in rows]):.2f} |")
    _ = math


if __name__ == "__main__":
    main()
