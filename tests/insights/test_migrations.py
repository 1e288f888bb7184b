"""Migrations that move stored rows: they are run forward over rows written as the
migration before left them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("insights", "0012_item_unit_scores"), ("ingestion", "0008_source_rating_scale")]
AFTER = [("insights", "0013_items_in_several_themes")]


@pytest.mark.django_db(transaction=True)
def test_assignments_keyed_by_item_are_copied_into_one_row_per_item_and_theme() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    source = old.get_model("ingestion", "DataSource").objects.create(name="App Store")
    item_model = old.get_model("ingestion", "FeedbackItem")
    items = [
        item_model.objects.create(source=source, kind="review", text=t, content_hash=t)
        for t in ("crash", "sync", "unthemed")
    ]
    theme = old.get_model("insights", "Theme").objects.create(name="T", embedding_model="m")
    assignment = old.get_model("insights", "ThemeAssignment")
    for item, similarity in zip(items[:2], (0.9, 0.4), strict=True):
        assignment.objects.create(item=item, theme=theme, similarity=similarity, method="cluster")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    rows = new.get_model("insights", "ThemeAssignment").objects.order_by("similarity")
    assert list(rows.values_list("item_id", "theme_id", "similarity", "unit_start")) == [
        (items[1].pk, theme.pk, 0.4, None),
        (items[0].pk, theme.pk, 0.9, None),
    ]
    # The new key counts on from the copied rows: another theme for the same item is a row.
    other = new.get_model("insights", "Theme").objects.create(name="U", embedding_model="m")
    copied = list(rows.values_list("pk", flat=True))
    added = rows.create(item_id=items[0].pk, theme=other, method="cluster")
    assert added.pk > max(copied)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
