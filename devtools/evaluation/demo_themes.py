"""Themes on the demo data, whose every item records its true theme (ingestion/demo): how
close the product's clustering comes to the generator's topics, how many themes it makes
against the true number, and whether the rising problem stays one theme.

The items are the demo's default load (what `make demo` analyses), clustered by the
product's discover_themes over three UMAP seeds: a single seed can mislead (see the pain
points step)."""

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np

from devtools.evaluation.report import Row, Section
from devtools.evaluation.themes import clustering_scores
from ingestion.demo.generator import RISING_THEME, generate_demo_feedback
from insights.pipeline.themes.clustering import NO_THEME, discover_themes

SEEDS = (0, 1, 2)
# A fixed end date: the same records on every run, whatever today is.
DEMO_END = date(2026, 11, 29)
# A true topic counts as one theme when this share of its items sits in a single theme.
ONE_THEME_SHARE = 0.8

Progress = Callable[[int, int], None]
COLUMNS = (
    "seed",
    "ARI",
    "NMI",
    "unassigned",
    "themes",
    "true topics",
    "themes / true topics",
    "rising problem: share in one theme",
    "rising problem is one theme",
)


def demo_texts_and_topics() -> tuple[list[str], list[str]]:
    """Return the demo's texts and each one's true theme key (the `make demo` load)."""
    records = list(generate_demo_feedback(end=DEMO_END))
    texts = [str(record["text"]) for record in records]
    return texts, [_true_topic(record) for record in records]


def _true_topic(record: dict[str, object]) -> str:
    metadata = record["metadata"]
    assert isinstance(metadata, dict)  # the generator always writes it
    return str(metadata["demo_theme"])


def largest_theme_share(topics: Sequence[str], labels: np.ndarray, topic: str) -> float:
    """Return the share of one true topic's items that its largest theme holds."""
    mine = [int(label) for label, truth in zip(labels, topics, strict=True) if truth == topic]
    counts = Counter(label for label in mine if label != NO_THEME)
    return max(counts.values()) / len(mine) if counts else 0.0


def demo_theme_rows(topics: Sequence[str], labels: np.ndarray, seed: int) -> Row:
    true_topics = len(set(topics))
    row: Row = {"seed": seed, **clustering_scores(topics, labels), "true topics": true_topics}
    row["themes / true topics"] = len(set(labels.tolist()) - {NO_THEME}) / true_topics
    share = largest_theme_share(topics, labels, RISING_THEME)
    row["rising problem: share in one theme"] = share
    row["rising problem is one theme"] = share >= ONE_THEME_SHARE
    return row


def _number(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


def evaluate_demo_themes(
    texts: Sequence[str], topics: Sequence[str], vectors: np.ndarray, progress: Progress | None
) -> Section:
    rows = []
    for done, seed in enumerate(SEEDS, start=1):
        rows.append(demo_theme_rows(topics, discover_themes(vectors, seed=seed).labels, seed))
        if progress:
            progress(done, len(SEEDS))
    mean: Row = {"seed": "mean"}
    for key in ("ARI", "NMI", "themes", "themes / true topics"):
        mean[key] = float(np.mean([_number(row[key]) for row in rows]))
    return Section(
        name="demo_themes",
        title=f"Themes on the demo data ({len(texts):,} items, ground truth from the generator)",
        columns=COLUMNS,
        rows=[*rows, mean],
        notes=[
            "Targets (issue 17): ARI >= 0.60; at most twice as many themes as true topics; "
            f"the rising problem ({RISING_THEME}) one theme, i.e. >= {ONE_THEME_SHARE:.0%} of "
            "its items in a single theme.",
            "Clustering only (discover_themes), before the themes are stored and described.",
        ],
    )
