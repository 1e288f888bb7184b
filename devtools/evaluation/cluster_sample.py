"""The cost of bounded clustering (issue 21): themes fitted on a sample of the benchmark's
feedback mix and the rest assigned, as the product does past FEEDLENS_CLUSTER_SAMPLE points,
against a fit on every item.

The mix is the speed benchmark's (devtools.benchmark.synthetic): 100,000 items drawn from
the four public data sets, each lightly changed. The sample is a fifth, stratified by data
set (the product's source) and week, as insights.pipeline.themes.identity draws it. Three
readings: how far the sample's themes agree with the full fit's on every item; how well
each recovers the intents of the items drawn from Banking77 (the only labelled topics in
the mix); and how well each keeps the data sets apart.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from devtools.benchmark.synthetic import SyntheticRow
from devtools.evaluation.report import Row, Section
from devtools.evaluation.themes import clustering_scores, warm_up_umap
from insights.pipeline.themes.clustering import (
    NO_THEME,
    Clustering,
    discover_on_sample,
    discover_themes,
    stratified_sample,
)

Progress = Callable[[int, int], None]
MIX_ITEMS = 100_000
SAMPLE_ITEMS = 20_000
COLUMNS = (
    "fit",
    "themes",
    "unassigned",
    "seconds",
    "ARI vs full fit",
    "NMI vs full fit",
    "Banking77 ARI",
    "Banking77 NMI",
    "data set NMI",
)


@dataclass(frozen=True)
class MixTruth:
    intents: np.ndarray  # the Banking77 intent of each item, "" for the other data sets
    datasets: np.ndarray  # the data set each item was drawn from
    strata: np.ndarray  # data set and week, as the product's source and week


def mix_truth(rows: Sequence[SyntheticRow], intent_of: dict[str, str]) -> MixTruth:
    """What is known of each item of the mix: its intent (Banking77 items) and its data set."""
    datasets = np.array([row.dataset for row in rows])
    weeks = np.array([row.date.toordinal() // 7 for row in rows])
    _, codes = np.unique(datasets, return_inverse=True)
    return MixTruth(
        intents=np.array([intent_of.get(row.original, "") for row in rows]),
        datasets=datasets,
        strata=codes * 1_000_000 + weeks,
    )


def evaluate_cluster_sample(
    vectors: np.ndarray,
    truth: MixTruth,
    on_progress: Progress | None = None,
    sample_items: int = SAMPLE_ITEMS,
) -> Section:
    """Fit on every item, then on a stratified sample of sample_items; return the section
    comparing them."""
    warm_up_umap(vectors.shape[1])
    fits: list[tuple[str, Clustering, float]] = []
    began = time.perf_counter()
    full = discover_themes(vectors, seed=0)
    fits.append(("every item", full, time.perf_counter() - began))
    if on_progress:
        on_progress(1, 2)
    sample = stratified_sample(truth.strata, sample_items, seed=0)
    began = time.perf_counter()
    sampled = discover_on_sample(vectors, sample, seed=0)
    name = f"a stratified sample of {len(sample):,}, the rest assigned"
    fits.append((name, sampled, time.perf_counter() - began))
    if on_progress:
        on_progress(2, 2)
    rows = [_row(name, fit.labels, full.labels, truth, seconds) for name, fit, seconds in fits]
    banking = int((truth.intents != "").sum())
    return Section(
        "cluster_sample",
        f"Themes fitted on a sample of the {len(vectors):,}-item benchmark mix",
        COLUMNS,
        rows,
        [
            f"The speed benchmark's mix of the four public data sets ({len(vectors):,} items, "
            "each lightly changed; all-MiniLM-L6-v2 embeddings). UMAP seeded (0) in both "
            "fits, so the difference is the sample's.",
            "ARI and NMI vs full fit: agreement with the themes fitted on every item. "
            f"Banking77: against the intents of the {banking:,} items drawn from it (every "
            "theme counts, the other data sets' too). Data set NMI: how well the themes keep "
            "the data sets apart. Unassigned items count as one extra cluster.",
            "Seconds: discovery only, after a UMAP warm-up; the sample's include assigning "
            "the rest.",
        ],
    )


def _row(
    name: str,
    labels: np.ndarray,
    full: np.ndarray,
    truth: MixTruth,
    seconds: float,
) -> Row:
    banking = truth.intents != ""
    scores = clustering_scores(truth.intents[banking], labels[banking])
    return {
        "fit": name,
        "themes": len(set(labels.tolist()) - {NO_THEME}),
        "unassigned": float((labels == NO_THEME).mean()),
        "seconds": round(seconds, 1),
        "ARI vs full fit": float(adjusted_rand_score(full, labels)),
        "NMI vs full fit": float(normalized_mutual_info_score(full, labels)),
        "Banking77 ARI": scores["ARI"],
        "Banking77 NMI": scores["NMI"],
        "data set NMI": float(normalized_mutual_info_score(truth.datasets, labels)),
    }
