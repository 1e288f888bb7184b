"""The demo ground-truth evaluation: its measures on labels whose answers are known."""

import numpy as np

from devtools.evaluation.demo_themes import (
    demo_texts_and_topics,
    demo_theme_rows,
    largest_theme_share,
)
from ingestion.demo.generator import RISING_THEME
from insights.pipeline.themes.clustering import NO_THEME


def test_the_demo_load_carries_every_true_topic_and_the_rising_problem() -> None:
    texts, topics = demo_texts_and_topics()
    assert len(texts) == len(topics) > 1000
    assert RISING_THEME in topics
    assert len(set(topics)) == 11
    assert demo_texts_and_topics() == (texts, topics)  # a fixed end date: the same every run


def test_a_topic_split_in_two_is_held_by_its_largest_part() -> None:
    topics = ["crash"] * 4 + ["sync"] * 2
    labels = np.array([0, 0, 0, 1, 2, 2])
    assert largest_theme_share(topics, labels, "crash") == 0.75
    assert largest_theme_share(topics, np.array([NO_THEME] * 6), "sync") == 0.0


def test_a_perfect_clustering_scores_one_and_keeps_the_rising_problem_whole() -> None:
    topics = [RISING_THEME] * 5 + ["sync"] * 5
    labels = np.array([3] * 5 + [7] * 5)
    row = demo_theme_rows(topics, labels, seed=0)
    assert row["ARI"] == 1.0
    assert row["themes"] == row["true topics"] == 2
    assert row["themes / true topics"] == 1.0
    assert row["rising problem is one theme"] is True


def test_splitting_every_topic_doubles_the_theme_ratio_and_splits_the_rising_problem() -> None:
    topics = [RISING_THEME] * 4 + ["sync"] * 4
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    row = demo_theme_rows(topics, labels, seed=1)
    assert row["themes / true topics"] == 2.0
    assert row["rising problem: share in one theme"] == 0.5
    assert row["rising problem is one theme"] is False
