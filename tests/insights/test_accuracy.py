"""People label a random sample; the app says how accurate the analysis is on it."""

from datetime import UTC, datetime

import numpy as np
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from accounts import roles
from ingestion.models import DataSource, FeedbackItem
from insights.curation.accuracy import accuracy_by, sentiment_is_right, wilson_interval
from insights.models import (
    EvaluationLabel,
    ItemSentiment,
    ModelVersion,
    Theme,
    ThemeAssignment,
)

pytestmark = pytest.mark.django_db


def analysed_item(
    source: DataSource, text: str, predicted: str, theme: Theme | None
) -> FeedbackItem:
    item = FeedbackItem.objects.create(
        source=source,
        kind="review",
        text=text,
        content_hash=text,
        created_at=datetime(2026, 11, 3, tzinfo=UTC),
    )
    version = ModelVersion.objects.get_or_create(name="model.gguf", sha256="ab" * 32)[0]
    ItemSentiment.objects.create(
        item=item, llm_model=version, prompt_version="p1", predicted=predicted, confidence=0.8
    )
    if theme:
        ThemeAssignment.objects.create(item=item, theme=theme, method="cluster")
    return item


@pytest.fixture
def labeller(client: Client) -> Client:
    user = User.objects.create_user("pm")
    user.groups.add(Group.objects.get(name=roles.PRODUCT_MANAGER))
    client.force_login(user)
    return client


@pytest.fixture
def theme() -> Theme:
    return Theme.objects.create(
        name="Receipt crashes",
        centroid=np.ones(384, dtype="<f4").tobytes(),
        embedding_model="all-MiniLM-L6-v2",
    )


def test_the_wilson_interval_is_wide_for_few_labels_and_narrow_for_many() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490, abs=0.001) and high == pytest.approx(0.943, abs=0.001)
    low, high = wilson_interval(800, 1000)
    assert high - low < 0.05
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_a_label_is_stored_beside_the_prediction_and_corrects_the_item(
    labeller: Client, theme: Theme
) -> None:
    store = DataSource.objects.create(name="App Store")
    item = analysed_item(store, "The app crashes when I scan a receipt.", "positive", theme)
    page = labeller.get(reverse("insights:evaluation_label"))
    assert page.context["item"] == item and page.context["theme"] == theme

    response = labeller.post(
        reverse("insights:evaluation_label"),
        {"item": item.pk, "sentiment": "negative", "theme_is_right": "yes"},
    )

    assert response.status_code == 302
    label = EvaluationLabel.objects.get()
    assert (label.sentiment, label.predicted_sentiment) == ("negative", "positive")
    assert label.theme == theme and label.theme_is_right is True
    assert label.model_version.startswith("model.gguf (abababababab) / p1 / classifier")
    assert ItemSentiment.objects.get(item=item).label == "negative"
    assert labeller.get(reverse("insights:evaluation_label")).context["item"] is None


def test_accuracy_is_shown_per_source_with_its_interval(labeller: Client, theme: Theme) -> None:
    store = DataSource.objects.create(name="App Store")
    desk = DataSource.objects.create(name="Help desk")
    for n in range(4):
        analysed_item(store, f"store {n}", "negative", theme)
    analysed_item(desk, "desk 0", "neutral", None)
    answers = {"store 0": "negative", "store 1": "negative", "store 2": "negative"}
    answers |= {"store 3": "positive", "desk 0": "negative"}
    for text, sentiment in answers.items():
        item = FeedbackItem.objects.get(text=text)
        labeller.post(
            reverse("insights:evaluation_label"),
            {"item": item.pk, "sentiment": sentiment, "theme_is_right": "no"},
        )

    tables = labeller.get(reverse("insights:evaluation")).context["tables"]

    by_source = {row.group: (row.labels, row.correct) for row in tables["sentiment_source"]}
    assert by_source == {"App Store": (4, 3), "Help desk": (1, 0)}
    (overall,) = tables["sentiment_overall"]
    assert (overall.labels, overall.correct) == (5, 3)
    assert (overall.low, overall.high) == pytest.approx(wilson_interval(3, 5))
    # The desk item had no theme: it says nothing about theme accuracy.
    assert [(row.labels, row.correct) for row in tables["theme_overall"]] == [(4, 0)]
    assert [row.group for row in tables["sentiment_week"]] == ["2026-W45"]


def test_accuracy_by_leaves_out_labels_of_unknown_correctness() -> None:
    labels = [
        EvaluationLabel(sentiment="negative", predicted_sentiment="negative", theme_is_right=None),
        EvaluationLabel(sentiment="neutral", predicted_sentiment="negative", theme_is_right=True),
    ]
    (row,) = accuracy_by(labels, lambda label: "all", sentiment_is_right)
    assert (row.labels, row.correct, row.share) == (2, 1, 0.5)
    (row,) = accuracy_by(labels, lambda label: "all", lambda label: label.theme_is_right)
    assert (row.labels, row.correct) == (1, 1)


def test_only_people_allowed_to_label_can_label(client: Client) -> None:
    viewer = User.objects.create_user("viewer")
    viewer.groups.add(Group.objects.get(name=roles.SUPPORT_LEAD))
    client.force_login(viewer)
    assert client.get(reverse("insights:evaluation")).status_code == 200
    assert client.get(reverse("insights:evaluation_label")).status_code == 403
