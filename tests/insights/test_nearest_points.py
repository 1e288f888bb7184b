"""Each item's point nearest a theme's centre speaks for it there: one assignment per item
and theme, computed on arrays (issue 21: no Python object per point at a million items)."""

import numpy as np
import pytest

from insights.models import AssignmentMethod
from insights.pipeline.embedding import NO_SPAN, ThemePoints
from insights.pipeline.themes.clustering import NO_THEME
from insights.pipeline.themes.identity import _nearest_per_theme


def one_by_one(
    points: ThemePoints, labels: np.ndarray, theme_ids: list[int], centres: np.ndarray
) -> dict[tuple[int, int], tuple[float, object]]:
    """The same choice point by point: the nearest, the first of equals."""
    best: dict[tuple[int, int], tuple[float, object]] = {}
    for point, label in enumerate(labels.tolist()):
        if label == NO_THEME:
            continue
        key = (int(points.item_ids[point]), theme_ids[label])
        similarity = float(points.vectors[point] @ centres[label])
        if key not in best or similarity > best[key][0]:
            best[key] = (similarity, points.span(point))
    return best


def test_the_nearest_point_of_each_item_speaks_for_it_in_each_theme() -> None:
    rng = np.random.default_rng(0)
    item_ids = np.repeat(np.arange(100, 160), 5)  # 60 items of 5 units each
    starts = np.tile(np.arange(0, 50, 10), 60)  # each item's units start at 0, 10, ... 40
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    points = ThemePoints(item_ids, starts, starts + 9, vectors)
    labels = rng.integers(-1, 6, size=300)
    centres = rng.normal(size=(6, 8)).astype(np.float32)
    # Labels 4 and 5 are two centres of one theme (a merged-away theme's and its own).
    theme_ids = [7, 8, 9, 10, 11, 11]

    rows = _nearest_per_theme(points, labels, theme_ids, centres, AssignmentMethod.NEAREST)

    expected = one_by_one(points, labels, theme_ids, centres)
    found = {
        (row.item_id, row.theme_id): (row.similarity, (row.unit_start, row.unit_end))
        for row in rows
    }
    assert len(rows) == len(found) == len(expected)
    for key, (similarity, span) in expected.items():
        assert found[key][1] == span
        assert found[key][0] == pytest.approx(similarity, abs=1e-6)  # float32 either way
    assert {row.method for row in rows} == {AssignmentMethod.NEAREST}


def test_items_left_out_and_points_of_no_theme_get_no_assignment() -> None:
    vectors = np.eye(4, dtype=np.float32)
    whole = np.full(4, NO_SPAN)
    points = ThemePoints(np.array([1, 1, 2, 3]), whole, whole, vectors)
    labels = np.array([0, 0, NO_THEME, 0])
    rows = _nearest_per_theme(points, labels, [5], vectors[:1], "cluster", left_out={3})
    assert [(row.item_id, row.theme_id, row.similarity) for row in rows] == [(1, 5, 1.0)]
