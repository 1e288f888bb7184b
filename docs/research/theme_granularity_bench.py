#!/usr/bin/env python3
"""Theme granularity: fewer, broader themes where the data says sub-clusters are one topic
(research, not product code). See docs/research/theme-clustering.md, section
"Theme granularity: the demo's 11 topics against Banking77's 77 intents (2026-12-03)".

Issue 17 ("Not too many themes", target 4): on the demo data (ingestion/demo/generator.py,
1,439 items, 11 true topics) discover_themes makes ~62 themes and splits the rising problem
(receipt_crash_52), while on Banking77 its ~100 themes are about right for 77 intents. Every
method here runs on the same UMAP reduction per seed (the product's own settings: seeds 0, 1, 2,
as devtools/evaluation/demo_themes.py uses), so methods differ only in what follows UMAP:

- product: discover_themes as it is (HDBSCAN min_cluster_size round(0.3·√n), min_samples
  min(10, mcs), eom; merge at centre cosine >= 0.85; leftovers assigned).
- size f: the same with min_cluster_size round(f·√n), f in 0.5, 0.7, 1.0.
- upgma 0.6: product themes, then average-linkage (UPGMA) merging of their centres down to
  cosine 0.6 (a fixed pairwise threshold, to show what such a rule does on both data sets).
- plateau: a two-level result. The product's themes are the fine level (sub-themes). The broad
  level is found by re-condensing HDBSCAN's single-linkage tree (the same tree, same
  min_samples) at min_cluster_size m0·1.2^i (i = 0..15, m0 the product's size, capped at 10 %
  of n), each followed by the product's merge and leftover steps. A plateau is a run of at
  least RUN consecutive steps whose partitions agree (ARI >= AGREE with the step before): the
  partition stays the same while the smallest allowed theme grows 1.2^RUN-fold. The broad
  level is the partition in the middle of the first such run (none: broad = fine), and each
  fine theme joins the broad theme that holds most of its items, so fine themes nest in broad
  ones. Only the broad level counts as themes below.
- plateau variants (--variants): the AGREE / RUN / position choices, to show how sensitive
  the rule is to them.

Data: the demo's default load (devtools.evaluation.demo_themes.demo_texts_and_topics),
Banking77 train (10,003 texts, 77 intents) and the negative airline tweets of the evaluation's
seeded 1,000-tweet test sample (devtools.evaluation.steps.tweet_sample; 609 tweets), scored
against negativereason. Embeddings: the configured embedder through the evaluation's cache
(devtools.evaluation.cache.embeddings); UMAP reductions are cached too. Scores: sklearn ARI and
arithmetic NMI, unassigned (-1) as one extra cluster (devtools.evaluation.themes
.clustering_scores); "rising" is the share of receipt_crash_52's items in its largest theme.

    cd /work/main && DEBUG=true HF_HUB_OFFLINE=1 nice -n 19 \
        .venv/bin/python docs/research/theme_granularity_bench.py [--variants] [--pairs]

Options: --cache DIR (default /tmp/theme_granularity), --b77-sample N (screen on a subsample),
--held-out-only (only the last check: the plateau rule on SemEval 2014 and 2015 restaurant
sentences, data not used to choose it).
"""
# ruff: noqa: E402, S108

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedlens.settings")

import argparse
import math
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import django

django.setup()

from django.conf import settings

from devtools.evaluation.cache import embeddings
from devtools.evaluation.datasets import read_banking77
from devtools.evaluation.demo_themes import demo_texts_and_topics
from devtools.evaluation.steps import EvaluationConfig, tweet_sample
from devtools.evaluation.themes import clustering_scores
from ingestion.demo.generator import RISING_THEME
from insights.local_models import configured_embedder
from insights.pipeline.sentiment.prompt import LABELS
from insights.pipeline.themes import clustering as C

SEEDS = (0, 1, 2)
NO_THEME = -1
# The plateau rule (see the module docstring).
STEP = 1.2
STEPS = 16
CAP_SHARE = 0.10
AGREE = 0.95
RUN = 3
WHERE = "mid"


# ---------------------------------------------------------------- data
def datasets(cache: Path, b77_sample: int | None) -> dict[str, tuple[np.ndarray, np.ndarray, list]]:
    """Return {name: (unit vectors, truth, texts)} for demo, tweets and b77."""
    config = EvaluationConfig(Path(settings.FEEDLENS_DATASETS_DIR), cache / "embeddings")
    embedder = configured_embedder()
    out = {}
    texts, topics = demo_texts_and_topics()
    vectors = embeddings(texts, embedder, config.cache_dir).values
    out["demo"] = (vectors.astype(np.float32), np.array(topics), texts)
    sample = tweet_sample(config)
    negative = np.flatnonzero(sample.sentiments[sample.test] == LABELS.index("negative"))
    rows = sample.test[negative]
    out["tweets"] = (
        sample.x_test[negative].astype(np.float32),
        np.array(list(sample.reasons[rows])),
        list(sample.texts[rows]),
    )
    data = read_banking77(config.datasets_dir)
    vectors = embeddings(data.texts, embedder, config.cache_dir).values.astype(np.float32)
    truth, texts = np.array(data.labels), data.texts
    if b77_sample:
        keep = np.random.RandomState(0).permutation(len(vectors))[:b77_sample]
        vectors, truth, texts = vectors[keep], truth[keep], [texts[i] for i in keep]
    out["b77"] = (vectors, truth, texts)
    return out


def reduce(vectors: np.ndarray, seed: int, cache: Path, name: str) -> np.ndarray:
    """The product's UMAP (discover_themes' settings), cached per data set, size and seed."""
    path = cache / f"umap_{name}_{len(vectors)}_seed{seed}.npy"
    if path.exists():
        return np.load(path)
    import umap

    params = C.ClusterParameters.for_size(len(vectors))
    reduced = umap.UMAP(
        n_components=5,
        n_neighbors=params.n_neighbors,
        min_dist=0.0,
        metric="cosine",
        n_epochs=params.n_epochs,
        init="pca",
        low_memory=False,
        random_state=seed,
        precomputed_knn=C._precomputed_neighbours(vectors, params.n_neighbors),
    ).fit_transform(vectors)
    np.save(path, reduced)
    return reduced


# ---------------------------------------------------------------- methods
def post(vectors: np.ndarray, reduced: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The product's steps after HDBSCAN: merge close centres, assign leftovers."""
    labels = C._merge_close_clusters(vectors, labels)
    return C._renumber(C._assign_leftovers(vectors, reduced, labels))


def hdbscan_fit(reduced: np.ndarray, min_cluster_size: int, min_samples: int):
    import hdbscan

    return hdbscan.HDBSCAN(
        min_cluster_size=min_cluster_size, min_samples=min_samples, cluster_selection_method="eom"
    ).fit(reduced)


def product(vectors: np.ndarray, reduced: np.ndarray) -> np.ndarray:
    params = C.ClusterParameters.for_size(len(vectors))
    fitted = hdbscan_fit(reduced, params.min_cluster_size, params.min_samples)
    return post(vectors, reduced, fitted.labels_)


def size_factor(f: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def cluster(vectors: np.ndarray, reduced: np.ndarray) -> np.ndarray:
        mcs = max(5, round(f * math.sqrt(len(vectors))))
        return post(vectors, reduced, hdbscan_fit(reduced, mcs, min(10, mcs)).labels_)

    return cluster


def upgma(cosine: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def cluster(vectors: np.ndarray, reduced: np.ndarray) -> np.ndarray:
        from scipy.cluster.hierarchy import fcluster, linkage

        labels = product(vectors, reduced)
        ids, centres = C._centroids(vectors, labels)
        if len(ids) < 2:
            return labels
        groups = fcluster(linkage(centres, "average", "cosine"), 1 - cosine, "distance")
        mapping = {int(i): int(g) for i, g in zip(ids, groups, strict=True)}
        mapping[NO_THEME] = NO_THEME
        return C._renumber(np.array([mapping[int(v)] for v in labels]))

    return cluster


def scale_scan(vectors: np.ndarray, reduced: np.ndarray) -> tuple[np.ndarray, list]:
    """Return the fine (product) labels and [(min_cluster_size, labels)] for the scan, all
    from one single-linkage tree (re-condensed per size; no new HDBSCAN fit)."""
    from hdbscan.hdbscan_ import _tree_to_labels

    params = C.ClusterParameters.for_size(len(vectors))
    fitted = hdbscan_fit(reduced, params.min_cluster_size, params.min_samples)
    fine = post(vectors, reduced, fitted.labels_)
    tree = fitted._single_linkage_tree
    scan, seen = [], set()
    for i in range(STEPS):
        mcs = round(params.min_cluster_size * STEP**i)
        if mcs > CAP_SHARE * len(vectors):
            break
        if mcs in seen:
            continue
        seen.add(mcs)
        raw = _tree_to_labels(reduced, tree, mcs, "eom")[0]
        scan.append((mcs, fine if i == 0 else post(vectors, reduced, raw)))
    return fine, scan


def plateau_pick(scan: list, agree: float, run: int, where: str, longest: bool = False) -> int:
    """Index in scan of the broad partition: middle (start, end) of the first (longest: the
    longest, the first of equals) run of >= run consecutive steps that agree with the step
    before (ARI >= agree) and have more than one theme; 0 if none."""
    same = [True] + [
        adjusted_rand_score(scan[i - 1][1], scan[i][1]) >= agree for i in range(1, len(scan))
    ]
    best, best_length, i = 0, 0, 0
    while i < len(scan):
        j = i
        while j + 1 < len(scan) and same[j + 1]:
            j += 1
        pick = {"start": i, "mid": (i + j + 1) // 2, "end": j}[where]
        # A plateau of one theme (or none) says nothing.
        if (
            j - i >= run
            and j - i > best_length
            and len(set(scan[pick][1].tolist()) - {NO_THEME}) > 1
        ):
            if not longest:
                return pick
            best, best_length = pick, j - i
        i = j + 1
    return best


def nest(fine: np.ndarray, broad: np.ndarray) -> np.ndarray:
    """Each fine theme joins the broad theme holding most of its items (fine themes nest)."""
    mapping = {NO_THEME: NO_THEME}
    for theme in set(fine.tolist()) - {NO_THEME}:
        counts = Counter(broad[fine == theme].tolist())
        counts.pop(NO_THEME, None)
        mapping[theme] = counts.most_common(1)[0][0] if counts else theme + 10**6
    return C._renumber(np.array([mapping[int(v)] for v in fine]))


def plateau(agree: float = AGREE, run: int = RUN, where: str = WHERE, longest: bool = False):
    def cluster(vectors: np.ndarray, reduced: np.ndarray) -> np.ndarray:
        fine, scan = scale_scan(vectors, reduced)
        pick = plateau_pick(scan, agree, run, where, longest)
        return fine if pick == 0 else nest(fine, scan[pick][1])

    return cluster


METHODS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "product (0.3·√n)": product,
    "size 0.5·√n": size_factor(0.5),
    "size 0.7·√n": size_factor(0.7),
    "size 1.0·√n": size_factor(1.0),
    "upgma merge to cosine 0.6": upgma(0.6),
    f"plateau (ARI>={AGREE}, {RUN} steps, {WHERE}), broad level": plateau(),
    f"plateau, longest run (ARI>={AGREE}, {RUN} steps, {WHERE}), broad level": plateau(
        longest=True
    ),
}


# ---------------------------------------------------------------- scoring
def score(name: str, truth: np.ndarray, labels: np.ndarray) -> dict:
    row = clustering_scores(list(truth), labels)
    if name == "demo":
        mine = labels[truth == RISING_THEME]
        counts = Counter(mine[mine != NO_THEME].tolist())
        row["rising"] = max(counts.values()) / len(mine) if counts else 0.0
    return row


def table(results: dict) -> None:
    print(
        "\n| method | demo ARI | demo NMI | demo themes | rising share (per seed) | "
        "B77 NMI (sd) | B77 ARI | B77 themes | B77 unassigned | tweets themes | tweets NMI |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for method, per in results.items():

        def m(ds: str, key: str, per: dict = per) -> float:
            return float(np.mean([r[key] for r in per[ds]]))

        rising = "/".join(f"{r['rising']:.2f}" for r in per["demo"])
        sd = float(np.std([r["NMI"] for r in per["b77"]]))
        print(
            f"| {method} | {m('demo', 'ARI'):.3f} | {m('demo', 'NMI'):.3f} | "
            f"{m('demo', 'themes'):.1f} | {rising} | {m('b77', 'NMI'):.3f} ({sd:.3f}) | "
            f"{m('b77', 'ARI'):.3f} | {m('b77', 'themes'):.1f} | "
            f"{100 * m('b77', 'unassigned'):.1f} % | {m('tweets', 'themes'):.1f} | "
            f"{m('tweets', 'NMI'):.3f} |",
            flush=True,
        )


def pair_statistics(data: dict, cache: Path) -> None:
    """Seed 0, product themes labelled by their majority truth: how alike are two themes of
    one truth class against two of different classes (centre cosine, and the cosine of their
    class-based TF-IDF rows)? Quantiles."""
    from sklearn.feature_extraction.text import CountVectorizer

    from insights.pipeline.themes.keywords import STOP_WORDS, WORD

    print("\n| data | pairs | centre cosine q10/q50/q90 | c-TF-IDF cosine q10/q50/q90 |")
    print("|---|---|---|---|")
    for name, (vectors, truth, texts) in data.items():
        labels = product(vectors, reduce(vectors, 0, cache, name))
        ids, centres = C._centroids(vectors, labels)
        major = np.array([Counter(truth[labels == i]).most_common(1)[0][0] for i in ids])
        docs = [" ".join(texts[j] for j in np.flatnonzero(labels == i)) for i in ids]
        vectorizer = CountVectorizer(token_pattern=WORD.pattern, stop_words=list(STOP_WORDS))
        tf = vectorizer.fit_transform(docs).astype(float).toarray()
        ctfidf = tf / tf.sum(1, keepdims=True) * np.log(1 + tf.sum() / len(ids) / tf.sum(0))
        ctfidf /= np.linalg.norm(ctfidf, axis=1, keepdims=True)
        upper = np.triu_indices(len(ids), 1)
        same = major[upper[0]] == major[upper[1]]
        for kind, mask in (("same class", same), ("different classes", ~same)):
            cos = (centres @ centres.T)[upper][mask]
            lex = (ctfidf @ ctfidf.T)[upper][mask]
            qs = (0.1, 0.5, 0.9) if kind == "same class" else (0.5, 0.99, 1.0)
            print(
                f"| {name} | {kind} ({mask.sum()}) | "
                f"{'/'.join(f'{q:.2f}' for q in np.quantile(cos, qs))} | "
                f"{'/'.join(f'{q:.2f}' for q in np.quantile(lex, qs))} |"
            )
    print("(different classes: q50/q99/max)")


HELD_OUT = (
    # (name, file, category column transform): sentences with exactly one category
    ("semeval14", "semeval2014_restaurants_sentences.csv", lambda c: c),
    ("semeval15", "semeval2015_restaurants_sentences.csv", lambda c: c.split("#")[0]),
)


def held_out(cache: Path) -> None:
    """The plateau rule on data not used to choose it, product vs plateau per seed: SemEval
    2014 restaurant sentences with exactly one aspect category (5 coarse categories), and
    SemEval 2015 restaurant sentences with exactly one category, scored by its entity (6)."""
    import csv

    path = Path(settings.FEEDLENS_DATASETS_DIR) / "semeval_absa"
    for name, file_name, truth_of in HELD_OUT:
        with (path / file_name).open(newline="") as file:
            rows = [
                r for r in csv.DictReader(file) if r["categories"] and "|" not in r["categories"]
            ]
        texts = [r["text"] for r in rows]
        truth = np.array([truth_of(r["categories"]) for r in rows])
        vectors = embeddings(texts, configured_embedder(), cache / "embeddings").values
        vectors = vectors.astype(np.float32)
        print(
            f"\n{name}: {len(texts):,} single-category sentences, {len(set(truth))} classes "
            "(ARI / NMI / themes)"
        )
        print("| seed | product | plateau, first | plateau, longest | unassigned |")
        print("|---|---|---|---|---|")
        for seed in SEEDS:
            reduced = reduce(vectors, seed, cache, name)
            a = score(name, truth, product(vectors, reduced))
            b = score(name, truth, plateau()(vectors, reduced))
            c = score(name, truth, plateau(longest=True)(vectors, reduced))
            print(
                f"| {seed} | {a['ARI']:.3f} / {a['NMI']:.3f} / {a['themes']} | "
                f"{b['ARI']:.3f} / {b['NMI']:.3f} / {b['themes']} | "
                f"{c['ARI']:.3f} / {c['NMI']:.3f} / {c['themes']} | "
                f"{100 * a['unassigned']:.1f} % |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/theme_granularity"))
    parser.add_argument("--b77-sample", type=int, default=None)
    parser.add_argument("--variants", action="store_true", help="plateau rule sensitivity")
    parser.add_argument("--pairs", action="store_true", help="theme-pair statistics")
    parser.add_argument("--held-out-only", action="store_true", help="only the SemEval check")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.held_out_only:
        held_out(args.cache)
        return
    data = datasets(args.cache, args.b77_sample)
    print({name: len(v[0]) for name, v in data.items()}, flush=True)

    # The reduction is discover_themes' own: check it once (demo, seed 0).
    check = C.discover_themes(data["demo"][0], seed=0).labels
    mine = product(data["demo"][0], reduce(data["demo"][0], 0, args.cache, "demo"))
    print(
        f"check: discover_themes vs this script's product, demo seed 0: ARI "
        f"{adjusted_rand_score(check, mine):.3f}",
        flush=True,
    )

    methods = dict(METHODS)
    if args.variants:
        for agree in (0.95, 0.97):
            for run in (2, 3):
                for where in ("start", "mid", "end"):
                    methods[f"plateau variant ARI>={agree}, {run} steps, {where}"] = plateau(
                        agree, run, where
                    )
    results: dict = {method: {name: [] for name in data} for method in methods}
    seconds: dict = {method: 0.0 for method in methods}
    for name, (vectors, truth, _texts) in data.items():
        for seed in SEEDS:
            reduced = reduce(vectors, seed, args.cache, name)
            for method, cluster in methods.items():
                began = time.perf_counter()
                labels = cluster(vectors, reduced)
                if name == "b77":
                    seconds[method] += time.perf_counter() - began
                results[method][name].append(score(name, truth, labels))
        print(f"{name} done", flush=True)
    table(results)
    print(
        "\nB77 seconds after UMAP, 3 seeds: "
        + "; ".join(f"{m}: {s:.1f}" for m, s in seconds.items())
    )
    if args.pairs:
        pair_statistics(data, args.cache)
    held_out(args.cache)


if __name__ == "__main__":
    main()
