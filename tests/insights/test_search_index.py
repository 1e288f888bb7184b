"""The shared search index (issue 21): an HNSW file the analysis run writes and every web
process memory-maps, tested against exact search, the oracle."""

from pathlib import Path

import numpy as np
import pytest
from django.http import QueryDict

from ingestion.models import DataSource
from insights.dashboards import search as semantic
from insights.dashboards.filters import FeedbackFilters
from insights.local_models import configured_embedder
from insights.models import AnalysisRun, ItemEmbedding, TextEmbedding
from insights.pipeline import search_index
from insights.pipeline.run import run_analysis
from tests.factories import add_item_ids

pytestmark = pytest.mark.django_db

MODEL = "test-model"
DIMENSIONS = 32


def add_vectors(vectors: np.ndarray, source: str = "App Store") -> list[int]:
    """Items embedded by MODEL with these vectors (unit length); return their ids."""
    ids = add_item_ids(*(f"item {n} of {source}" for n in range(len(vectors))), source=source)
    for item_id, vector in zip(ids, vectors, strict=True):
        text = TextEmbedding.objects.create(
            model_name=MODEL,
            text_hash=f"{source}-{item_id}",
            dimensions=DIMENSIONS,
            vector=vector.astype("<f4").tobytes(),
        )
        ItemEmbedding.objects.create(item_id=item_id, embedding=text)
    return ids


def unit_vectors(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIMENSIONS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def small_threshold(settings: object) -> None:
    settings.FEEDLENS_SEARCH_INDEX_MIN_ITEMS = 100  # type: ignore[attr-defined]


def exact_top(vector: np.ndarray, limit: int, filters: FeedbackFilters | None = None) -> list[int]:
    snapshot = semantic.VectorIndex().snapshot(MODEL)
    return [hit.item_id for hit in semantic.nearest(snapshot, vector, limit, filters)]


def test_below_the_threshold_no_file_is_written_and_search_stays_exact(
    settings: object, search_index_dir: Path
) -> None:
    add_vectors(unit_vectors(50, seed=0))
    settings.FEEDLENS_SEARCH_INDEX_MIN_ITEMS = 51  # type: ignore[attr-defined]
    assert search_index.write_search_index(MODEL) == 0
    assert search_index.current_version(MODEL) is None
    assert not search_index_dir.exists()


def test_the_shared_index_finds_what_exact_search_finds(
    small_threshold: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Built on one thread, the graph is the same every time: on two, the order the threads
    # insert in varies, and once (of many runs) a query's nearest item was missed.
    monkeypatch.setattr(search_index, "available_cores", lambda: 1)
    add_vectors(unit_vectors(2000, seed=1))
    progress: list[tuple[int, int]] = []

    assert (
        search_index.write_search_index(MODEL, on_progress=lambda *step: progress.append(step))
        == 2000
    )

    assert progress[-1] == (2000, 2000)
    path = search_index.current_version(MODEL)
    assert path is not None
    shared = search_index.open_index(path)
    assert shared.index.connectivity == search_index.GRAPH_LINKS
    assert shared.index.expansion_search == search_index.SEARCH_EXPANSION
    queries = unit_vectors(20, seed=2)
    recalls = []
    for query in queries:
        found = [hit.item_id for hit in semantic.nearest_shared(shared, query, 10)]
        exact = exact_top(query, 10)
        assert found[0] == exact[0]
        recalls.append(len(set(found) & set(exact)) / 10)
    assert np.mean(recalls) >= 0.95
    hits = semantic.nearest_shared(shared, queries[0], 10)
    similarities = [hit.similarity for hit in hits]
    assert similarities == sorted(similarities, reverse=True)
    exact_best = float(semantic.VectorIndex().snapshot(MODEL).scores(queries[0]).max())
    assert similarities[0] == pytest.approx(exact_best, abs=2e-3)  # stored as float16


def test_a_narrow_filter_is_answered_from_the_allowed_items_vectors(
    small_threshold: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_vectors(unit_vectors(300, seed=3))
    forum_ids = add_vectors(unit_vectors(5, seed=4), source="Forum")
    search_index.write_search_index(MODEL)
    path = search_index.current_version(MODEL)
    assert path is not None
    shared = search_index.open_index(path)
    # Check only the 2 nearest against the filters first: too few, so every Forum item's
    # vector is read from the index and scored.
    monkeypatch.setattr(semantic, "OVERFETCH_MIN", 2)
    monkeypatch.setattr(semantic, "OVERFETCH_FACTOR", 1)
    forum = DataSource.objects.get(name="Forum")
    filters = FeedbackFilters(QueryDict(f"source={forum.pk}"))
    query = unit_vectors(1, seed=5)[0]

    found = [hit.item_id for hit in semantic.nearest_shared(shared, query, 3, filters)]

    assert found == exact_top(query, 3, filters)
    assert set(found) <= set(forum_ids)


def test_a_web_process_picks_up_the_version_a_run_writes(
    small_threshold: None, search_index_dir: Path, settings: object
) -> None:
    add_vectors(unit_vectors(200, seed=6))
    search_index.write_search_index(MODEL)
    indexes = semantic.SharedIndexes()
    first = indexes.current(MODEL)
    assert first is not None and first.size == 200
    assert indexes.current(MODEL) is first  # nothing new: the same mapped file

    (newcomer,) = add_vectors(unit_vectors(1, seed=7), source="Forum")
    search_index.write_search_index(MODEL)
    second = indexes.current(MODEL)

    assert second is not None and second is not first and second.size == 201
    ids, _ = second.nearest(unit_vectors(1, seed=7)[0], 1)
    assert ids.tolist() == [newcomer]
    # The version before stays for a process that still reads it; older ones go.
    search_index.write_search_index(MODEL)
    assert len(list((search_index_dir / MODEL).glob("*.usearch"))) == 2
    ids, _ = first.nearest(unit_vectors(1, seed=7)[0], 1)  # still readable
    assert len(ids) == 1

    # Below the threshold again: no version is current, and search is exact.
    settings.FEEDLENS_SEARCH_INDEX_MIN_ITEMS = 1000  # type: ignore[attr-defined]
    assert search_index.write_search_index(MODEL) == 0
    assert search_index.current_version(MODEL) is None and indexes.current(MODEL) is None


def test_a_run_writes_the_index_and_search_reads_it(settings: object) -> None:
    settings.FEEDLENS_SEARCH_INDEX_MIN_ITEMS = 3  # type: ignore[attr-defined]
    refund, *_ = add_item_ids(
        "Still waiting for my refund after the flight was cancelled",
        "The seats were comfortable and the crew was friendly",
        "The app crashes whenever I try to check in online",
        "Lovely hotel breakfast and great coffee",
    )

    run = run_analysis(AnalysisRun.objects.create().pk)

    assert run.stats["indexing"]["items"] == 4
    assert "search index of 4 items written" in run.stats["indexing"]["note"]
    embedder = configured_embedder()
    assert search_index.current_version(embedder.name) is not None
    result = semantic.search("refund for a cancelled flight", 2, embedder=embedder)
    assert result.indexed == 4 and result.hits[0].item_id == refund
