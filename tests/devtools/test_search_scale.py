"""The search-index benchmark measures the product's own index against exact search."""

from io import StringIO
from pathlib import Path

import numpy as np
from django.core.management import call_command

from devtools.benchmark.search_scale import measure_search_scale, synthetic_vectors


def test_synthetic_vectors_are_unit_length_and_clustered() -> None:
    vectors = synthetic_vectors(3000, seed=0)
    assert vectors.shape == (3000, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # Feedback has near neighbours: each vector's nearest other is far closer than chance.
    similarity = vectors[:100] @ vectors.T
    np.fill_diagonal(similarity[:, :100], -1)
    assert np.median(similarity.max(axis=1)) > 0.5


def test_the_benchmark_reports_recall_against_exact_search(
    settings: object, tmp_path: Path
) -> None:
    scale = measure_search_scale(3000)
    assert scale.items == 3000 and scale.file_mib > 0
    assert scale.recall_at_10 >= 0.95  # a small index: the graph search is all but exact
    assert 0 < scale.median_ms <= scale.p95_ms

    settings.VAR_DIR = tmp_path  # type: ignore[attr-defined]
    out = StringIO()
    call_command("benchmark_search", "--items", "500", stdout=out)
    assert "recall_at_10" in out.getvalue()
    assert (tmp_path / "bench" / "search-latest.md").exists()
