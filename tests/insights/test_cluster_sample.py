"""Past FEEDLENS_CLUSTER_SAMPLE points a re-cluster fits on a sample and assigns the rest
as new items are (issue 21, bounded clustering): every item still gets its theme, and
themes stay, found again by the members the sample holds."""

import numpy as np
import pytest
from django.contrib.auth.models import User

from ingestion.models import FeedbackItem
from insights.curation.corrections import move_item_to_theme
from insights.models import AssignmentMethod, Theme, ThemeAssignment
from insights.pipeline.themes import identity
from insights.pipeline.themes.identity import (
    assign_new_items,
    cluster_again,
    items_to_assign,
    recluster,
)
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


def record_fits(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """The item ids of the points each clustering is fitted on, as it is called."""
    fitted: list[np.ndarray] = []
    real = identity.discover_themes
    monkeypatch.setattr(
        identity,
        "discover_themes",
        lambda vectors, **options: fitted.append(options["owners"]) or real(vectors, **options),
    )
    return fitted


@pytest.fixture
def half_sample(settings: object, monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """A sample of half the items' points; what each clustering was fitted on."""
    settings.FEEDLENS_CLUSTER_SAMPLE = 2 * PER_TOPIC  # type: ignore[attr-defined]
    return record_fits(monkeypatch)


def test_a_recluster_past_the_sample_size_themes_every_item(
    items: list[FeedbackItem], half_sample: list[np.ndarray]
) -> None:
    fitted = half_sample
    result = recluster(EMBEDDING_MODEL, seed=0)

    assert [len(owners) for owners in fitted] == [80]  # half the points, by source and week
    assert result.items_assigned == len(items) and result.themes == 4
    assert result.outside_sample == 0
    themes = topic_themes(items)
    assert all(len(found) == 1 for found in themes)
    assert len(set.union(*themes)) == 4


def test_clustering_again_leaves_the_items_outside_the_sample_to_be_assigned(
    items: list[FeedbackItem], half_sample: list[np.ndarray]
) -> None:
    result = cluster_again(EMBEDDING_MODEL, seed=0)

    (sample,) = half_sample
    outside = sorted({item.pk for item in items} - set(sample.tolist()))
    assert result.outside_sample == len(outside) == 80
    assert "the other 80 items join their nearest theme next" in result.describe()
    assert items_to_assign(EMBEDDING_MODEL) == outside
    assert assign_new_items(EMBEDDING_MODEL) == 80
    assert all(len(found) == 1 for found in topic_themes(items))


def test_a_recluster_on_a_sample_finds_the_stored_themes_again_by_their_members(
    settings: object,
) -> None:
    """A sample holds a small share of each stored theme's members (20 of 150 here, too
    few for MATCH_MIN_JACCARD): the themes are found again by the members it holds."""
    per_topic = 150
    topics = TopicVectors(topics=4, dimensions=16, spread=0.05, seed=0)
    items = add_items(*(f"item {n}" for n in range(4 * per_topic)))
    store_vectors(items, np.array([topics.near(n // per_topic) for n in range(len(items))]))
    recluster(EMBEDDING_MODEL, seed=0)
    before = dict(ThemeAssignment.objects.values_list("item_id", "theme_id"))
    # Centres that point anywhere else: only members can tell which theme is which.
    rng = np.random.default_rng(1)
    for theme in Theme.objects.all():
        away = rng.normal(size=16)
        theme.centroid = (away / np.linalg.norm(away)).astype("<f4").tobytes()
        theme.save(update_fields=["centroid"])
    settings.FEEDLENS_CLUSTER_SAMPLE = 80  # type: ignore[attr-defined]

    result = recluster(EMBEDDING_MODEL, seed=1)

    assert (result.themes, result.kept, result.created) == (4, 4, 0)
    assert dict(ThemeAssignment.objects.values_list("item_id", "theme_id")) == before


def test_an_item_a_person_moved_is_fitted_on_and_stays_where_they_put_it(
    items: list[FeedbackItem], settings: object, admin_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    recluster(EMBEDDING_MODEL, seed=0)
    moved = items[0]
    sync = Theme.objects.get(assignments__item=items[PER_TOPIC])
    move_item_to_theme(moved, sync, admin_user)
    settings.FEEDLENS_CLUSTER_SAMPLE = 20  # type: ignore[attr-defined]
    fitted = record_fits(monkeypatch)

    recluster(EMBEDDING_MODEL, seed=0)

    (sample,) = fitted
    assert moved.pk in set(sample.tolist())
    row = ThemeAssignment.objects.get(item=moved)
    assert (row.theme_id, row.method) == (sync.pk, AssignmentMethod.PERSON)
