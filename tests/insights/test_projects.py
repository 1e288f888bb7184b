"""Projects: a company's products, each with its own sources, whose themes are found apart
(issue 20, part 3). Two products with the same kind of complaint get a theme each."""

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from ingestion.models import DataSource, FeedbackItem, Project
from insights.curation.corrections import CorrectionError, merge_themes, move_item_to_theme
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.theme_stats import theme_list
from insights.forms import CopyDraftForm, MoveItemForm
from insights.models import CopyKind, Theme
from insights.pipeline.themes.identity import (
    assign_new_items,
    recluster,
    theme_leftovers,
    theme_scopes,
)
from tests.factories import EMBEDDING_MODEL, TopicVectors, add_items
from tests.insights.test_theme_hierarchy import store_vectors

pytestmark = pytest.mark.django_db

PER_TOPIC = 15


@pytest.fixture
def topics() -> TopicVectors:
    return TopicVectors(topics=4, dimensions=16, spread=0.05, seed=0)


def source_in(project_name: str) -> DataSource:
    project = Project.objects.get_or_create(name=project_name)[0]
    return DataSource.objects.create(name=f"{project_name} reviews", project=project)


def add_topic_items(
    source: DataSource, topics: TopicVectors, *topic_numbers: int
) -> list[FeedbackItem]:
    """PER_TOPIC embedded items of each topic, in the source."""
    labels = [topic for topic in topic_numbers for _ in range(PER_TOPIC)]
    items = add_items(*(f"{source.name} {n}" for n in range(len(labels))), source=source)
    store_vectors(items, np.array([topics.near(topic) for topic in labels]))
    return items


@pytest.fixture
def two_products(topics: TopicVectors) -> tuple[list[FeedbackItem], list[FeedbackItem]]:
    """The budgeting app's receipts (0) and log-in (1) complaints; the airline's log-in (1)
    and delays (2): both products have log-in complaints, alike in every word."""
    app = add_topic_items(source_in("Budget app"), topics, 0, 1)
    airline = add_topic_items(source_in("Airline"), topics, 1, 2)
    return app, airline


def projects_of(theme: Theme) -> set[int]:
    """The projects of the theme's items' sources."""
    return set(theme.assignments.values_list("item__source__project_id", flat=True))


def test_two_products_never_share_a_theme_however_alike_their_feedback(
    two_products: tuple[list[FeedbackItem], list[FeedbackItem]],
) -> None:
    app, airline = two_products
    result = recluster(EMBEDDING_MODEL, seed=0)

    themes = list(Theme.objects.live(EMBEDDING_MODEL))
    assert result.themes == len(themes) == 4  # two per product: log-in complaints twice
    for theme in themes:
        assert projects_of(theme) == {theme.project_id}
    app_login = Theme.objects.get(assignments__item=app[PER_TOPIC])
    airline_login = Theme.objects.get(assignments__item=airline[0])
    assert app_login.pk != airline_login.pk
    assert app_login.size == airline_login.size == PER_TOPIC


def test_a_recluster_keeps_each_projects_themes(
    two_products: tuple[list[FeedbackItem], list[FeedbackItem]],
) -> None:
    recluster(EMBEDDING_MODEL, seed=0)
    before = dict(Theme.objects.live(EMBEDDING_MODEL).values_list("pk", "project_id"))
    again = recluster(EMBEDDING_MODEL, seed=1)
    assert (again.kept, again.created, again.retired) == (4, 0, 0)
    assert dict(Theme.objects.live(EMBEDDING_MODEL).values_list("pk", "project_id")) == before


def test_new_items_join_their_own_projects_themes_and_a_new_project_gets_its_own(
    topics: TopicVectors, two_products: tuple[list[FeedbackItem], list[FeedbackItem]]
) -> None:
    recluster(EMBEDDING_MODEL, seed=0)
    airline = DataSource.objects.get(name="Airline reviews")
    late_login = add_items("Still cannot log in.", source=airline)[0]
    store_vectors([late_login], np.array([topics.near(1)]))

    assert assign_new_items(EMBEDDING_MODEL) == 1
    joined = Theme.objects.get(assignments__item=late_login)
    assert joined.project_id == airline.project_id

    # A third product, with log-in complaints too: its items fit no theme of its own yet,
    # and never join another project's; its leftovers become its first themes.
    shop = add_topic_items(source_in("Shop"), topics, 1, 3)
    assert assign_new_items(EMBEDDING_MODEL) == 0
    leftovers = theme_leftovers(EMBEDDING_MODEL, seed=0)
    assert leftovers.themes == 2 and leftovers.assigned == len(shop)
    shop_themes = Theme.objects.filter(project=shop[0].source.project)
    assert shop_themes.count() == 2
    assert {theme.project_id for theme in Theme.objects.filter(assignments__item__in=shop)} == {
        shop[0].source.project_id
    }
    assert len(theme_scopes(EMBEDDING_MODEL)) == 3


def test_items_and_themes_stay_in_their_project_when_people_correct_them(
    two_products: tuple[list[FeedbackItem], list[FeedbackItem]], admin_user: User
) -> None:
    app, airline = two_products
    recluster(EMBEDDING_MODEL, seed=0)
    app_theme = Theme.objects.get(assignments__item=app[0])
    airline_theme = Theme.objects.get(assignments__item=airline[0])

    with pytest.raises(CorrectionError, match="different projects"):
        merge_themes(app_theme, airline_theme, admin_user)
    with pytest.raises(CorrectionError, match="another project"):
        move_item_to_theme(app[0], airline_theme, admin_user)
    offered = MoveItemForm(current=None, project=app[0].source.project).fields["theme"].queryset
    assert set(offered.values_list("project_id", flat=True)) == {app[0].source.project_id}


@pytest.mark.django_db(transaction=True)
def test_sources_and_themes_stored_before_projects_go_into_one_default_project() -> None:
    before = [
        ("insights", "0017_item_sentiment_feature_logits"),
        ("ingestion", "0008_source_rating_scale"),
    ]
    after = [("insights", "0018_themes_per_project")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    sources = [old.get_model("ingestion", "DataSource").objects.create(name=n) for n in "AB"]
    theme = old.get_model("insights", "Theme").objects.create(name="T", embedding_model="m")

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    (project,) = new.get_model("ingestion", "Project").objects.all()
    assert project.name == "Default project"
    source_model = new.get_model("ingestion", "DataSource")
    assert set(source_model.objects.values_list("project_id", flat=True)) == {project.pk}
    assert new.get_model("insights", "Theme").objects.get(pk=theme.pk).project_id == project.pk
    assert len(sources) == 2

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_pages_can_be_scoped_to_one_project(
    two_products: tuple[list[FeedbackItem], list[FeedbackItem]], pm_user: User
) -> None:
    app, airline = two_products
    recluster(EMBEDDING_MODEL, seed=0)
    rebuild_daily_counts()  # as a run does after its themes
    airline_project = airline[0].source.project
    scoped = FeedbackFilters({"project": str(airline_project.pk)})

    rows = theme_list(scoped).rows
    assert {row["theme"].project_id for row in rows} == {airline_project.pk}
    assert len(rows) == 2 and theme_list(FeedbackFilters({})).total == len(app) + len(airline)
    assert scoped.apply(FeedbackItem.objects.all()).count() == len(airline)

    client = Client()
    client.force_login(pm_user)
    page = client.get(reverse("insights:theme_list"), {"project": airline_project.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="project"' in html and "All projects" in html
    shown = {theme.pk for theme in Theme.objects.filter(project=airline_project)}
    for theme in Theme.objects.live(EMBEDDING_MODEL):
        link = reverse("insights:theme_detail", args=[theme.pk])
        assert (link in html) == (theme.pk in shown)
    # Unscoped, both products' log-in themes are listed, each saying its project.
    everything = client.get(reverse("insights:theme_list")).content.decode()
    assert everything.count('<small class="meta project">Airline</small>') == 2
    assert everything.count('<small class="meta project">Budget app</small>') == 2
    login = Theme.objects.get(assignments__item=airline[0])
    detail = client.get(reverse("insights:theme_detail", args=[login.pk])).content.decode()
    assert '<span class="project">Airline</span>' in detail


def test_a_chosen_project_stays_chosen_across_the_pages_the_navigation_links(
    pm_user: User,
) -> None:
    airline = source_in("Airline").project
    client = Client()
    client.force_login(pm_user)

    html = client.get(reverse("insights:overview"), {"project": airline.pk}).content.decode()
    nav = html[html.index("<nav>") : html.index("</nav>")]

    for page in ("overview", "theme_list", "item_list", "search"):
        assert f'href="{reverse(f"insights:{page}")}?project={airline.pk}"' in nav
    assert f'href="{reverse("insights:analysis")}"' in nav  # a page with no project filter
    plain = client.get(reverse("insights:overview")).content.decode()
    assert "?project=" not in plain[plain.index("<nav>") : plain.index("</nav>")]


def test_one_project_offers_no_project_filter(pm_user: User) -> None:
    add_items("A lone review.")
    assert "project" not in FeedbackFilters({}).form.fields
    client = Client()
    client.force_login(pm_user)
    assert 'name="project"' not in client.get(reverse("insights:item_list")).content.decode()


def test_the_copy_form_names_each_themes_project_where_there_are_several(
    two_products: tuple[list[FeedbackItem], list[FeedbackItem]],
) -> None:
    recluster(EMBEDDING_MODEL, seed=0)
    labels = [label for _, label in CopyDraftForm().fields["themes"].choices]
    assert len(labels) == 4
    assert sum(" — Airline (" in label for label in labels) == 2
    assert sum(" — Budget app (" in label for label in labels) == 2


def test_a_copy_draft_is_about_one_project(
    two_products: tuple[list[FeedbackItem], list[FeedbackItem]],
) -> None:
    recluster(EMBEDDING_MODEL, seed=0)
    app, airline = (
        Theme.objects.live().filter(project__name=name) for name in ("Budget app", "Airline")
    )
    mixed = CopyDraftForm({"themes": [app[0].pk, airline[0].pk], "kind": CopyKind.RELEASE_NOTE})
    assert not mixed.is_valid()
    assert "Pick themes of one project" in str(mixed.errors["themes"])
    one = CopyDraftForm({"themes": [theme.pk for theme in app], "kind": CopyKind.RELEASE_NOTE})
    assert one.is_valid(), one.errors


def test_with_one_project_the_copy_form_names_none(topics: TopicVectors) -> None:
    add_topic_items(source_in("Budget app"), topics, 0, 1)
    recluster(EMBEDDING_MODEL, seed=0)
    labels = [label for _, label in CopyDraftForm().fields["themes"].choices]
    assert len(labels) == 2 and not any(" — " in label for label in labels)
