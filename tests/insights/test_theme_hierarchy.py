"""Broad themes with sub-themes: a theme too broad to mean something (a whole product beside
another) is kept as the parent of the themes it splits into, holds their items, and keeps
its id across re-clusters (issue 20, themes that split until they mean something)."""

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from ingestion.models import FeedbackItem
from insights.curation.corrections import (
    CorrectionError,
    correct_theme_sentiment,
    merge_themes,
    move_item_to_theme,
    rename_theme,
)
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.overview import build_overview
from insights.dashboards.theme_stats import theme_list
from insights.forms import MoveItemForm
from insights.models import AssignmentMethod, ItemEmbedding, TextEmbedding, Theme, ThemeAssignment
from insights.pipeline.describing.corpus import corpus_describing, store_corpora
from insights.pipeline.embedding import theme_points
from insights.pipeline.themes import clustering as clustering_module
from insights.pipeline.themes.clustering import Clustering
from insights.pipeline.themes.identity import (
    ThemeScope,
    _store_clustering,
    assign_new_items,
    move_item,
    sync_parent_memberships,
    theme_scopes,
)
from tests.factories import EMBEDDING_MODEL, TopicVectors, add_items, make_theme

pytestmark = pytest.mark.django_db

# Four topics of ten items: the budgeting app's receipts (0) and sync (1), the airline's
# delays (2) and lost bags (3).
TOPICS = 4
PER_TOPIC = 10
PRODUCT_OF_TOPIC = np.array([0, 0, 1, 1])


def the_scope() -> ThemeScope:
    """The one project's themes by the test embedding model."""
    (scope,) = theme_scopes(EMBEDDING_MODEL)
    return scope


def store_vectors(items: list[FeedbackItem], vectors: np.ndarray) -> None:
    for item, vector in zip(items, vectors, strict=True):
        text = TextEmbedding.objects.create(
            model_name=EMBEDDING_MODEL,
            text_hash=item.content_hash,
            dimensions=len(vector),
            vector=vector.astype("<f4").tobytes(),
        )
        ItemEmbedding.objects.create(item=item, embedding=text)


@pytest.fixture
def topics() -> TopicVectors:
    return TopicVectors(topics=TOPICS, dimensions=16, spread=0.05, seed=0)


@pytest.fixture
def items(topics: TopicVectors) -> list[FeedbackItem]:
    """PER_TOPIC items of each topic, embedded, in topic order."""
    stored = add_items(*(f"item {n}" for n in range(TOPICS * PER_TOPIC)))
    store_vectors(stored, np.array([topics.near(n // PER_TOPIC) for n in range(len(stored))]))
    return stored


def clustering(split_products: bool = True) -> Clustering:
    """The items' clustering: by topic, each product a broad theme holding two (or, not
    split, one theme per product)."""
    points = theme_points(FeedbackItem.objects.all(), EMBEDDING_MODEL)
    topic = np.repeat(np.arange(TOPICS), PER_TOPIC)
    if not split_products:
        products = PRODUCT_OF_TOPIC[topic]
        return clustering_module._clustering(points.vectors, products, parts=topic)
    parents = PRODUCT_OF_TOPIC[topic]
    return clustering_module._clustering(points.vectors, topic, parts=topic, parents=parents)


def store(split_products: bool = True) -> None:
    points = theme_points(FeedbackItem.objects.all(), EMBEDDING_MODEL)
    _store_clustering(the_scope(), points, clustering(split_products))
    rebuild_daily_counts()  # as a run does after its themes


def theme_of_topic(topic: int) -> Theme:
    first = FeedbackItem.objects.order_by("pk")[topic * PER_TOPIC]
    return Theme.objects.leaves().get(assignments__item=first)


def themes_of(item: FeedbackItem) -> set[int]:
    return set(item.theme_assignments.values_list("theme_id", flat=True))


def test_a_broad_theme_holds_its_sub_themes_and_their_items(items: list[FeedbackItem]) -> None:
    points = theme_points(FeedbackItem.objects.all(), EMBEDDING_MODEL)
    result = _store_clustering(the_scope(), points, clustering())

    assert (result.themes, result.parents) == (6, 2)
    assert "2 of them are too broad to mean something and hold sub-themes." in result.describe()
    parents = list(Theme.objects.parents().order_by("pk"))
    assert len(parents) == 2 and Theme.objects.leaves().count() == 4
    for parent in parents:
        assert parent.parent_id is None and parent.size == 2 * PER_TOPIC
        children = list(parent.children.all())
        assert len(children) == 2 and all(child.size == PER_TOPIC for child in children)
        child_items = set(
            ThemeAssignment.objects.filter(theme__in=children).values_list("item_id", flat=True)
        )
        held = parent.assignments.all()
        assert set(held.values_list("item_id", flat=True)) == child_items
        assert set(held.values_list("method", flat=True)) == {AssignmentMethod.PARENT}
    # Each item is in its topic's theme and, through it, in its product's.
    assert all(len(themes_of(item)) == 2 for item in items)


def test_a_recluster_keeps_the_broad_themes_and_their_sub_themes(
    items: list[FeedbackItem],
) -> None:
    store()
    before = dict(Theme.objects.values_list("pk", "parent_id"))
    again = theme_points(FeedbackItem.objects.all(), EMBEDDING_MODEL)
    result = _store_clustering(the_scope(), again, clustering())
    assert (result.kept, result.created) == (6, 0)
    assert dict(Theme.objects.live().values_list("pk", "parent_id")) == before
    assert ThemeAssignment.objects.count() == 2 * len(items)


def test_a_theme_that_grows_too_broad_becomes_the_parent_and_keeps_its_id(
    items: list[FeedbackItem],
) -> None:
    store(split_products=False)
    products = set(Theme.objects.live().values_list("pk", flat=True))
    assert len(products) == 2 and not Theme.objects.parents().exists()

    store()
    assert set(Theme.objects.parents().values_list("pk", flat=True)) == products
    assert Theme.objects.leaves().count() == 4
    assert not Theme.objects.leaves().filter(pk__in=products).exists()


def test_a_new_item_joins_a_sub_theme_and_through_it_the_broad_theme(
    items: list[FeedbackItem], topics: TopicVectors
) -> None:
    store()
    (new,) = add_items("a new receipt problem")
    store_vectors([new], np.array([topics.near(0)]))

    assert assign_new_items(EMBEDDING_MODEL) == 1

    receipts = theme_of_topic(0)
    assert themes_of(new) == {receipts.pk, receipts.parent_id}
    parent = Theme.objects.get(pk=receipts.parent_id)
    assert parent.size == 2 * PER_TOPIC + 1 and receipts.size == PER_TOPIC + 1


def test_a_moved_item_follows_its_new_theme_into_that_theme_s_parent(
    items: list[FeedbackItem],
) -> None:
    store()
    delays, app = theme_of_topic(2), theme_of_topic(0).parent_id
    item = items[0]  # a receipts item, in the budgeting app

    move_item(item, delays, None)

    assert themes_of(item) == {delays.pk, delays.parent_id}
    methods = dict(item.theme_assignments.values_list("theme_id", "method"))
    assert methods == {
        delays.pk: AssignmentMethod.PERSON,
        delays.parent_id: AssignmentMethod.PARENT,
    }
    assert Theme.objects.get(pk=app).size == 2 * PER_TOPIC - 1


def test_merging_a_sub_theme_into_another_products_moves_its_items_there(
    items: list[FeedbackItem], admin_user: User
) -> None:
    store()
    sync, bags = theme_of_topic(1), theme_of_topic(3)
    app, airline = sync.parent_id, bags.parent_id

    merge_themes(sync, bags, admin_user)

    assert Theme.objects.get(pk=app).size == PER_TOPIC
    assert Theme.objects.get(pk=airline).size == 3 * PER_TOPIC
    for item in items[PER_TOPIC : 2 * PER_TOPIC]:
        assert themes_of(item) == {bags.pk, airline}


def test_a_broad_theme_is_neither_merged_nor_moved_into(
    items: list[FeedbackItem], admin_user: User
) -> None:
    store()
    app, airline = Theme.objects.parents().order_by("pk")
    receipts = theme_of_topic(0)
    for source, target in ((app, airline), (receipts, airline), (airline, receipts)):
        with pytest.raises(CorrectionError, match="is a broad theme holding sub-themes"):
            merge_themes(source, target, admin_user)
    with pytest.raises(CorrectionError, match="move the item into one of them"):
        move_item_to_theme(items[0], airline, admin_user)
    offered = MoveItemForm(current=None, project=items[0].source.project).fields["theme"].queryset
    assert set(offered.values_list("pk", flat=True)) == set(
        Theme.objects.leaves().values_list("pk", flat=True)
    )
    assert Theme.objects.get(pk=airline.pk).size == 2 * PER_TOPIC


def test_a_sentiment_corrected_toward_a_sub_theme_is_the_broad_themes_too(
    topics: TopicVectors, admin_user: User
) -> None:
    long_text = "The receipt scanner is wonderful and quick. " * 4 + "But sync failed again!"
    (review,) = add_items(long_text)
    store_vectors([review], np.array([topics.near(0)]))
    receipts, app = make_theme("Receipts"), make_theme("Budgeting app")
    Theme.objects.filter(pk=receipts.pk).update(parent=app)
    child = ThemeAssignment.objects.create(
        item=review,
        theme=receipts,
        unit_start=0,
        unit_end=43,
        sentiment="positive",
        method=AssignmentMethod.CLUSTER,
    )
    sync_parent_memberships([review.pk])
    copy = ThemeAssignment.objects.get(item=review, theme=app)
    assert (copy.method, copy.sentiment, copy.unit_end) == (AssignmentMethod.PARENT, "positive", 43)

    correct_theme_sentiment(child, "neutral", admin_user)

    copy.refresh_from_db()
    assert (copy.sentiment, copy.sentiment_by_person) == ("neutral", True)


# -- pages -------------------------------------------------------------------------------


def test_the_theme_list_shows_each_broad_theme_with_its_sub_themes_under_it(
    items: list[FeedbackItem], admin_client: Client
) -> None:
    store()
    rows = theme_list(FeedbackFilters(QueryDict(""))).rows
    order = [(row["theme"].pk, bool(row.get("sub_theme"))) for row in rows]
    broad = [pk for pk, sub in order if not sub]
    assert set(broad) == set(Theme.objects.parents().values_list("pk", flat=True))
    for position, (pk, sub) in enumerate(order):
        if sub:  # under its broad theme, after it and its siblings only
            parent = Theme.objects.get(pk=pk).parent_id
            assert parent in [p for p, s in order[:position] if not s]
            assert [p for p, s in order[:position] if not s][-1] == parent

    page = admin_client.get(reverse("insights:theme_list")).content.decode()
    assert page.count('class="sub-theme depth-1"') == 4


def test_a_broad_themes_page_lists_its_sub_themes_and_a_sub_themes_page_links_back(
    items: list[FeedbackItem], admin_client: Client
) -> None:
    store()
    receipts = theme_of_topic(0)
    app = Theme.objects.get(pk=receipts.parent_id)
    page = admin_client.get(reverse("insights:theme_detail", args=[app.pk])).content.decode()
    section = page[page.index('id="sub-themes"') :]
    for child in app.children.all():
        assert reverse("insights:theme_detail", args=[child.pk]) in section
    assert ">50.0 %<" in section  # each holds half the broad theme's items

    page = admin_client.get(reverse("insights:theme_detail", args=[receipts.pk])).content.decode()
    crumb = page[page.index('id="broad-theme"') :]
    assert reverse("insights:theme_detail", args=[app.pk]) in crumb[: crumb.index("</p>")]
    assert 'id="sub-themes"' not in page


def test_the_overview_and_the_item_list_name_the_specific_themes(
    items: list[FeedbackItem], admin_client: Client
) -> None:
    store()
    ranked = {stats.id for stats in build_overview(FeedbackFilters(QueryDict(""))).themes}
    assert ranked == set(Theme.objects.leaves().values_list("pk", flat=True))
    page = admin_client.get(reverse("insights:item_list")).content.decode()
    for parent in Theme.objects.parents():
        assert reverse("insights:theme_detail", args=[parent.pk]) not in page


# -- three levels ------------------------------------------------------------------------
# The budgeting app (broad) holds its receipts (topic 0) and a theme still too broad, its
# sync and exports (broad), which holds topics 1 and 2; the airline's delays (topic 3)
# stand alone.
APP, SYNC_AND_EXPORTS = 0, 1
PARENT_OF_TOPIC = np.array([APP, SYNC_AND_EXPORTS, SYNC_AND_EXPORTS, -1])


def three_levels() -> Clustering:
    points = theme_points(FeedbackItem.objects.all(), EMBEDDING_MODEL)
    topic = np.repeat(np.arange(TOPICS), PER_TOPIC)
    return clustering_module._clustering(
        points.vectors,
        topic,
        parts=topic,
        parents=PARENT_OF_TOPIC[topic],
        broad_parents={SYNC_AND_EXPORTS: APP},
    )


def store_three_levels() -> tuple[Theme, Theme]:
    """Store three_levels(); return the app's theme and its sync-and-exports theme."""
    points = theme_points(FeedbackItem.objects.all(), EMBEDDING_MODEL)
    _store_clustering(the_scope(), points, three_levels())
    rebuild_daily_counts()  # as a run does after its themes
    middle = Theme.objects.get(pk=theme_of_topic(1).parent_id)
    return Theme.objects.get(pk=middle.parent_id), middle


def test_a_sub_theme_still_too_broad_holds_sub_themes_of_its_own(
    items: list[FeedbackItem],
) -> None:
    app, middle = store_three_levels()

    assert app.parent_id is None and theme_of_topic(0).parent_id == app.pk
    assert theme_of_topic(2).parent_id == middle.pk and theme_of_topic(3).parent_id is None
    assert set(Theme.objects.parents()) == {app, middle}
    assert (app.size, middle.size) == (3 * PER_TOPIC, 2 * PER_TOPIC)
    # An item of topic 1 is in its theme, in the theme above it and in the app.
    assert themes_of(items[PER_TOPIC]) == {theme_of_topic(1).pk, middle.pk, app.pk}
    held = ThemeAssignment.objects.filter(theme__in=[app, middle])
    assert set(held.values_list("method", flat=True)) == {AssignmentMethod.PARENT}


def test_every_level_keeps_its_id_and_a_persons_names_across_a_recluster(
    items: list[FeedbackItem], admin_user: User
) -> None:
    app, middle = store_three_levels()
    rename_theme(app, "Budgeting app", admin_user)
    rename_theme(middle, "Sync and exports", admin_user)
    rename_theme(theme_of_topic(2), "Exports", admin_user)
    before = dict(Theme.objects.live().values_list("pk", "parent_id"))

    points = theme_points(FeedbackItem.objects.all(), EMBEDDING_MODEL)
    result = _store_clustering(the_scope(), points, three_levels())

    assert (result.kept, result.created, result.parents) == (6, 0, 2)
    assert dict(Theme.objects.live().values_list("pk", "parent_id")) == before
    names = set(Theme.objects.filter(name_source="person").values_list("name", flat=True))
    assert names == {"Budgeting app", "Sync and exports", "Exports"}


def test_an_item_moved_out_of_a_deep_theme_leaves_both_themes_above_it(
    items: list[FeedbackItem],
) -> None:
    app, middle = store_three_levels()
    item = items[PER_TOPIC]  # topic 1: under the middle theme and the app

    move_item(item, theme_of_topic(0), None)

    assert themes_of(item) == {theme_of_topic(0).pk, app.pk}
    middle.refresh_from_db()
    assert middle.size == 2 * PER_TOPIC - 1
    assert Theme.objects.get(pk=app.pk).size == 3 * PER_TOPIC


def test_the_theme_list_nests_each_level_under_the_one_above(
    items: list[FeedbackItem], admin_client: Client
) -> None:
    app, middle = store_three_levels()
    rows = theme_list(FeedbackFilters(QueryDict(""))).rows
    depth = {row["theme"].pk: row["depth"] for row in rows}
    order = [row["theme"].pk for row in rows]

    assert depth == {
        app.pk: 0,
        theme_of_topic(0).pk: 1,
        middle.pk: 1,
        theme_of_topic(1).pk: 2,
        theme_of_topic(2).pk: 2,
        theme_of_topic(3).pk: 0,
    }
    # Each theme comes after the one it is in, before any theme outside that one.
    under_middle = order[order.index(middle.pk) + 1 : order.index(middle.pk) + 3]
    assert set(under_middle) == {theme_of_topic(1).pk, theme_of_topic(2).pk}
    assert order.index(app.pk) < order.index(middle.pk)
    page = admin_client.get(reverse("insights:theme_list")).content.decode()
    assert page.count('class="sub-theme depth-2"') == 2


def test_a_deep_themes_page_names_every_theme_above_it_topmost_first(
    items: list[FeedbackItem], admin_client: Client
) -> None:
    app, middle = store_three_levels()
    page = admin_client.get(reverse("insights:theme_detail", args=[theme_of_topic(1).pk]))
    crumb = page.content.decode()
    crumb = crumb[crumb.index('id="broad-theme"') :]
    crumb = crumb[: crumb.index("</p>")]
    app_link = reverse("insights:theme_detail", args=[app.pk])
    middle_link = reverse("insights:theme_detail", args=[middle.pk])
    assert app_link in crumb and middle_link in crumb
    assert crumb.index(app_link) < crumb.index(middle_link)


def test_each_broad_theme_is_described_among_the_themes_of_its_level(
    items: list[FeedbackItem],
) -> None:
    app, middle = store_three_levels()
    leaves = [theme_of_topic(topic).pk for topic in range(TOPICS)]

    corpora = store_corpora([app, middle, theme_of_topic(1)], EMBEDDING_MODEL)

    def level(theme: Theme) -> set[int]:
        return set(corpus_describing(theme.pk, corpora).level)

    assert level(theme_of_topic(1)) == set(leaves)
    assert level(middle) == {leaves[0], middle.pk, leaves[3]}
    assert level(app) == {app.pk, leaves[3]}
