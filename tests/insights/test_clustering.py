from collections import Counter
from datetime import date

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from ingestion.demo import generate_demo_feedback
from insights.clustering import (
    NO_THEME,
    Clustering,
    ClusterParameters,
    assign_to_themes,
    discover_themes,
)
from llm.embeddings import load_embedder


@pytest.fixture(scope="module")
def demo() -> tuple[list[str], list[str], np.ndarray]:
    records = list(
        generate_demo_feedback(seed=3, weeks=4, end=date(2026, 11, 1), items_per_week=150)
    )
    texts = [str(record["text"]) for record in records]
    themes = [str(record["metadata"]["demo_theme"]) for record in records]  # type: ignore[index]
    return texts, themes, load_embedder("").embed(texts)


@pytest.fixture(scope="module")
def clustering(demo: tuple[list[str], list[str], np.ndarray]) -> Clustering:
    return discover_themes(demo[2], seed=1)


def test_it_recovers_the_demo_themes(demo: tuple, clustering: Clustering) -> None:
    _, themes, _ = demo
    labels = clustering.labels
    assert adjusted_rand_score(themes, labels) > 0.3
    assert (labels == NO_THEME).mean() <= 0.10
    assert 5 <= len(clustering.theme_ids) <= 40


def test_identical_texts_share_a_theme(demo: tuple, clustering: Clustering) -> None:
    texts, _, vectors = demo
    repeated = [text for text, count in Counter(texts).items() if count > 1]
    for text in repeated:
        labels = {clustering.labels[i] for i, other in enumerate(texts) if other == text}
        assert len(labels) == 1
    again = assign_to_themes(vectors[:50], clustering)
    kept = clustering.labels[:50] != NO_THEME
    assert (again[kept] == clustering.labels[:50][kept]).mean() >= 0.9


def test_a_new_item_far_from_every_theme_gets_none(clustering: Clustering) -> None:
    far = load_embedder("").embed(["Photosynthesis converts light energy into chemical energy."])
    assert assign_to_themes(far, clustering).tolist() == [NO_THEME]


def test_too_few_items_make_no_themes() -> None:
    vectors = load_embedder("").embed(["sync fails", "login fails"])
    assert discover_themes(vectors).labels.tolist() == [NO_THEME, NO_THEME]


@pytest.mark.parametrize(("n", "size"), [(200, 5), (2_000, 13), (10_000, 30), (100_000, 95)])
def test_theme_sizes_grow_with_the_square_root_of_the_data(n: int, size: int) -> None:
    assert ClusterParameters.for_size(n).min_cluster_size == size
