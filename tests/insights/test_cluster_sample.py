"""Past FEEDLENS_CLUSTER_SAMPLE points a re-cluster fits on a sample and assigns the rest
(issue 21, bounded clustering): every item still gets its theme, and themes stay."""

import numpy as np
import pytest
from django.contrib.auth.models import User

from ingestion.models import FeedbackItem
from insights.curation.corrections import move_item_to_theme
from insights.models import AssignmentMethod, Theme, ThemeAssignment
from insights.pipeline.themes import identity
from insights.pipeline.themes.identity import recluster
from tests.factories import EMBEDDING_MODEL, TopicVectors, add_items
from tests.insights.test_theme_hierarchy import store_vectors

pytestmark = pytest.mark.django_db

PER_TOPIC = 40


@pytest.fixture
def items() -> list[FeedbackItem]:
    """Four topics of PER_TOPIC embedded items, in topic order."""
    topics = TopicVectors(topics=4, dimensions=16, spread=0.05, seed=0)
    stored = add_items(*(f"item {n}" for n in range(4 * PER_TOPIC)))
    store_vectors(stored, np.array([topics.near(n // PER_TOPIC) for n in range(len(stored))]))
    return stored


def topic_themes(items: list[FeedbackItem]) -> list[set[int]]:
    return [
        set(
            ThemeAssignment.objects.filter(
                item__in=items[topic * PER_TOPIC : (topic + 1) * PER_TOPIC]
            ).values_list("theme_id", flat=True)
        )
        for topic in range(4)
    ]


def test_a_recluster_past_the_sample_size_themes_every_item(
    items: list[FeedbackItem], settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.FEEDLENS_CLUSTER_SAMPLE = 80  # type: ignore[attr-defined]
    fitted_on: list[int] = []
    real = identity.discover_on_sample
    monkeypatch.setattr(
        identity,
        "discover_on_sample",
        lambda vectors, sample, *args: (
            fitted_on.append(len(sample)) or real(vectors, sample, *args)
        ),
    )

    result = recluster(EMBEDDING_MODEL, seed=0)

    assert fitted_on == [80]  # half the points, by source and week
    assert result.items_assigned == len(items) and result.themes == 4
    themes = topic_themes(items)
    assert all(len(found) == 1 for found in themes)
    assert len(set.union(*themes)) == 4


def test_an_item_a_person_moved_is_fitted_on_and_stays_where_they_put_it(
    items: list[FeedbackItem], settings: object, admin_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    recluster(EMBEDDING_MODEL, seed=0)
    moved = items[0]
    sync = Theme.objects.get(assignments__item=items[PER_TOPIC])
    move_item_to_theme(moved, sync, admin_user)
    settings.FEEDLENS_CLUSTER_SAMPLE = 20  # type: ignore[attr-defined]
    samples: list[np.ndarray] = []
    real = identity.discover_on_sample
    monkeypatch.setattr(
        identity,
        "discover_on_sample",
        lambda vectors, sample, *args: samples.append(sample) or real(vectors, sample, *args),
    )

    recluster(EMBEDDING_MODEL, seed=0)

    (sample,) = samples
    points = identity.theme_points(FeedbackItem.objects.all(), EMBEDDING_MODEL)
    assert moved.pk in set(points.item_ids[sample].tolist())
    row = ThemeAssignment.objects.get(item=moved)
    assert (row.theme_id, row.method) == (sync.pk, AssignmentMethod.PERSON)
