from collections import Counter
from datetime import date

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors

from ingestion.demo.generator import generate_demo_feedback
from insights.pipeline.themes import clustering as clustering_module
from insights.pipeline.themes.clustering import (
    NO_THEME,
    Clustering,
    ClusterParameters,
    assign_to_themes,
    discover_themes,
    exact_neighbours,
)
from llm.embeddings import load_embedder
from tests.factories import TopicVectors


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


def test_umap_runs_on_numbas_own_thread_pool_so_the_embedder_keeps_its_speed(
    clustering: Clustering,
) -> None:
    """On numba's OpenMP layer, beside llama.cpp's and torch's OpenMP, every embedding after
    a clustering ran about 50 times slower in that process (clustering_libraries)."""
    import numba

    assert len(clustering.theme_ids) > 0
    assert numba.threading_layer() == "workqueue"


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


def clustered_unit_vectors(n: int, groups: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return n unit vectors in 384 dimensions around `groups` random centres, and the group
    of each."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, n)
    vectors = rng.normal(size=(groups, 384))[group] + rng.normal(scale=0.5, size=(n, 384))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32), group


def test_exact_neighbours_are_those_a_brute_force_search_finds() -> None:
    vectors, _ = clustered_unit_vectors(1_100, 5)  # more than two blocks of rows
    indices, distances = exact_neighbours(vectors, 7)
    search = NearestNeighbors(n_neighbors=7, metric="cosine", algorithm="brute").fit(vectors)
    expected_distances, expected_indices = search.kneighbors(vectors)
    assert (indices.dtype, distances.dtype) == (np.int32, np.float32)
    assert [set(row) for row in indices] == [set(row) for row in expected_indices]
    assert np.allclose(distances, expected_distances, atol=1e-5)
    assert (indices[:, 0] == np.arange(len(vectors))).all()  # each vector is its own nearest
    assert (np.diff(distances, axis=1) >= 0).all()


def test_themes_are_found_from_exact_neighbours_in_their_size_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectors, groups = clustered_unit_vectors(4_500, 8)
    searched: list[int] = []
    search = clustering_module.exact_neighbours

    def counted(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        searched.append(len(vectors))
        return search(vectors, k)

    monkeypatch.setattr(clustering_module, "exact_neighbours", counted)
    labels = discover_themes(vectors).labels
    assert searched == [4_500]
    assert adjusted_rand_score(groups, labels) > 0.95


def test_small_and_large_sets_leave_the_neighbour_search_to_umap() -> None:
    vectors, _ = clustered_unit_vectors(100, 3)
    assert clustering_module._precomputed_neighbours(vectors, 15) == (None, None, None)
    many = np.zeros((clustering_module.EXACT_NEIGHBOURS_MAX_ITEMS + 1, 2), dtype=np.float32)
    assert clustering_module._precomputed_neighbours(many, 15) == (None, None, None)


def test_a_share_is_of_the_whole_feedback_where_the_items_are_a_part_of_it() -> None:
    parts = np.array([0, 0, 1, 1, 2, 2, 3, 3, NO_THEME])
    themes = np.array([0, 0, 0, 0, 1, 1, 1, 1, NO_THEME])
    # Leftovers of 40 items: 4 is a tenth of them, each theme stays whole.
    kept, parents = clustering_module._split_broad(parts, themes, np.arange(9), population=40)
    assert kept.tolist() == themes.tolist() and parents is None


def test_a_theme_holding_over_a_quarter_of_the_items_is_split_into_its_parts() -> None:
    parts = np.array([0, 0, 1, 1, 2, 2, 3, 3, NO_THEME])
    themes = np.array([0, 0, 0, 0, 1, 1, 1, 1, NO_THEME])
    # One point an item: each theme holds 4 of 9 items, too broad; each is kept as the
    # parent of its parts.
    labels, parents = clustering_module._split_broad(parts, themes, np.arange(9))
    assert labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, -1]
    assert parents is not None and parents.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, -1]
    # The second theme's points are the units of one item: 1 of 6 items, it stays whole.
    owners = np.array([0, 1, 2, 3, 4, 4, 4, 4, 5])
    labels, parents = clustering_module._split_broad(parts, themes, owners)
    assert labels.tolist() == [1, 1, 2, 2, 0, 0, 0, 0, -1]
    assert parents is not None and parents.tolist() == [0, 0, 0, 0, -1, -1, -1, -1, -1]


def test_a_theme_split_inside_keeps_the_broad_themes_found_in_it_beneath_it() -> None:
    # A theme (broad label 5) split into four inner themes, of which the inner clustering
    # kept 0 and 1 under an inner broad theme 0, and 2 under an inner broad theme 1 that
    # was itself split from 0; inner theme 3 was split from nothing.
    inner = clustering_module._clustering(
        np.eye(4),
        np.array([0, 1, 2, 3]),
        parts=np.array([0, 1, 2, 3]),
        parents=np.array([0, 0, 1, NO_THEME]),
        broad_parents={1: 0},
    )
    inside = np.array([0, 0, 1, 2, 3, 3])

    parents, broad_parents = clustering_module._parents_inside(inside, inner, label=5)

    # Numbered after the theme's own label: inner broad 0 is 6, inner broad 1 is 7.
    assert parents.tolist() == [6, 6, 6, 7, 5, 5]
    assert broad_parents == {6: 5, 7: 6}


def test_an_inner_broad_theme_holding_only_broad_themes_still_hangs_from_the_split_one() -> None:
    # Inside, broad theme 0 holds no theme directly: only broad theme 1, split from it.
    inner = clustering_module._clustering(
        np.eye(3),
        np.array([0, 1, 2]),
        parts=np.array([0, 1, 2]),
        parents=np.array([1, 1, NO_THEME]),
        broad_parents={1: 0},
    )
    parents, broad_parents = clustering_module._parents_inside(np.array([0, 1, 2]), inner, 5)
    assert parents.tolist() == [7, 7, 5]
    assert broad_parents == {6: 5, 7: 6}


def test_broad_labels_are_renumbered_alike_in_the_points_and_the_hierarchy() -> None:
    parents = np.array([4, 4, 9, NO_THEME])
    renumbered, broad_parents = clustering_module._renumber_broad(parents, {9: 4, 4: 7})
    assert renumbered.tolist() == [0, 0, 2, NO_THEME]
    assert broad_parents == {2: 0, 0: 1}


def test_a_broad_theme_holds_the_points_of_every_theme_under_it_however_deep() -> None:
    labels = np.array([0, 1, 2, 3, NO_THEME])
    split = clustering_module._clustering(
        np.eye(5),
        labels,
        parts=labels,
        parents=np.array([0, 1, 1, NO_THEME, NO_THEME]),
        broad_parents={1: 0},
    )
    members = {label: mask.tolist() for label, mask in split.broad_members().items()}
    assert members == {
        0: [True, True, True, False, False],
        1: [False, True, True, False, False],
    }
    assert split.levels() == 3
    # Each point's topmost theme: the first broad theme (numbered after the themes) or its own.
    assert split.top_labels().tolist() == [4, 4, 4, 3, NO_THEME]
    assert clustering_module._clustering(np.eye(5), labels).levels() == 1


def test_a_broad_theme_of_one_part_stays_whole_with_no_parent() -> None:
    parts = np.array([0, 0, 0, 0, 1, 2, 3, NO_THEME])
    themes = np.array([0, 0, 0, 0, 1, 1, 1, NO_THEME])
    labels, parents = clustering_module._split_broad(parts, themes, np.arange(8))
    # The first is one part: nothing to split it into. The second splits in three.
    assert labels.tolist() == [0, 0, 0, 0, 1, 2, 3, -1]
    assert parents is not None and parents.tolist() == [-1, -1, -1, -1, 0, 0, 0, -1]


def test_a_theme_still_too_broad_is_clustered_on_its_own_and_kept_as_the_parent() -> None:
    rng = np.random.default_rng(0)
    topics = TopicVectors(topics=4, dimensions=32, spread=0.05, seed=0)
    app = [topics.near(n % 4) for n in range(160)]
    # The other product: one domain, its sentences about three aspects of it.
    domain, aspects = rng.normal(size=32), rng.normal(size=(3, 32))
    reviews = []
    for n in range(240):
        vector = domain + 0.6 * aspects[n % 3] + rng.normal(scale=0.05, size=32)
        reviews.append(vector / np.linalg.norm(vector))
    vectors = np.array(app + reviews)
    themes = np.array([n % 4 for n in range(160)] + [4] * 240)
    whole = clustering_module._Whole(points=400, items=None, seed=0)

    found = clustering_module._Hierarchy(themes, themes.copy(), None, {})
    split = clustering_module._split_inside(vectors, found, np.arange(400), whole, depth=1)
    labels, parts, parents = split.themes, split.parts, split.parents

    assert labels[:160].tolist() == themes[:160].tolist()  # the app's themes stay
    assert adjusted_rand_score([n % 3 for n in range(240)], labels[160:]) > 0.95
    assert parents is not None
    assert set(parents[:160].tolist()) == {NO_THEME} and len(set(parents[160:].tolist())) == 1
    assert set(parts[160:].tolist()).isdisjoint(parts[:160].tolist())


def test_a_theme_spread_out_far_beyond_the_others_is_looked_inside() -> None:
    # Ten tight themes, and one of two unrelated topics lumped together: a small share of
    # the items (60 of 460), but its members lie far from its centre.
    topics = TopicVectors(topics=12, dimensions=32, spread=0.05, seed=1)
    tight = [topics.near(n % 10) for n in range(400)]
    lumped = [topics.near(10 + n % 2) for n in range(60)]
    vectors = np.array(tight + lumped)
    themes = np.array([n % 10 for n in range(400)] + [10] * 60)
    assert clustering_module._too_spread_out(vectors, themes) == {10}
    whole = clustering_module._Whole(points=460, items=None, seed=0)

    found = clustering_module._Hierarchy(themes, themes.copy(), None, {})
    split = clustering_module._split_inside(vectors, found, np.arange(460), whole, depth=1)
    labels, parents = split.themes, split.parents

    assert labels[:400].tolist() == themes[:400].tolist()  # the tight themes stay
    assert adjusted_rand_score([n % 2 for n in range(60)], labels[400:]) == 1.0
    assert parents is not None
    assert set(parents[:400].tolist()) == {NO_THEME} and len(set(parents[400:].tolist())) == 1


def test_among_few_themes_none_is_called_spread_out() -> None:
    topics = TopicVectors(topics=5, dimensions=32, spread=0.05, seed=1)
    vectors = np.array(
        [topics.near(n % 3) for n in range(60)] + [topics.near(3 + n % 2) for n in range(20)]
    )
    themes = np.array([n % 3 for n in range(60)] + [3] * 20)
    assert clustering_module._too_spread_out(vectors, themes) == set()


def test_the_many_sentences_of_one_item_are_no_theme_of_their_own() -> None:
    topics = TopicVectors(topics=4, dimensions=32, spread=0.05, seed=0)
    # Three topics of 20 short items each, and one long item: 12 sentences on a topic of
    # their own.
    vectors = np.array(
        [topics.near(n % 3) for n in range(60)] + [topics.near(3) for _ in range(12)]
    )
    owners = np.array(list(range(60)) + [60] * 12)

    as_items = discover_themes(vectors, seed=0).labels
    as_units = discover_themes(vectors, seed=0, owners=owners).labels

    assert len(set(as_items[60:].tolist())) == 1 and as_items[60] != NO_THEME
    assert set(as_units[60:].tolist()) == {NO_THEME}
    assert adjusted_rand_score(as_items[:60], as_units[:60]) == 1.0


def test_a_stratified_sample_gives_each_stratum_its_share_and_keeps_the_kept_rows() -> None:
    strata = np.array([0] * 800 + [1] * 180 + [2] * 20)
    keep = np.zeros(1000, dtype=bool)
    keep[[5, 900]] = True

    sample = clustering_module.stratified_sample(strata, 100, keep, seed=0)

    counts = Counter(strata[sample].tolist())
    # 80 and 18 drawn, and the kept row on top unless it was drawn too.
    assert counts[0] in (80, 81) and counts[1] in (18, 19) and counts[2] == 2
    assert {5, 900} <= set(sample.tolist())
    assert sample.tolist() == sorted(set(sample.tolist()))
    # A stratum smaller than its share of one row still has a row.
    lopsided = np.array([0] * 999 + [3])
    assert 3 in lopsided[clustering_module.stratified_sample(lopsided, 10)]


def test_themes_fitted_on_a_sample_reach_every_point_and_match_a_full_fit() -> None:
    topics = TopicVectors(topics=6, dimensions=32, spread=0.05, seed=2)
    truth = np.array([n % 6 for n in range(600)])
    vectors = np.array([topics.near(topic) for topic in truth.tolist()])
    half = clustering_module.stratified_sample(np.zeros(600), 300, seed=0)

    sampled = clustering_module.discover_on_sample(vectors, half, seed=0)

    assert len(sampled.labels) == 600 and (sampled.labels != NO_THEME).all()
    assert adjusted_rand_score(truth, sampled.labels) == 1.0
    assert sampled.theme_ids.tolist() == sorted(set(sampled.labels.tolist()))
