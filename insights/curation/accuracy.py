"""How accurate the analysis is on the customer's own feedback, from people's labels.

Accuracy is the share of labelled items where the machine agreed with the person, with a
95 % Wilson interval: with a few dozen labels the interval is wide, and saying so matters
more than the point figure.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from accounts.people import signed_in_person
from ingestion.models import DataSource, FeedbackItem
from insights.models import (
    AssignmentMethod,
    EvaluationLabel,
    ItemSentiment,
    SentimentClassifier,
    ThemeAssignment,
)
from insights.pipeline.sentiment.prompt import LABELS
from insights.pipeline.sentiment.stage import correct_sentiment, rating_bounds

Z_95 = 1.959964


@dataclass(frozen=True)
class Accuracy:
    group: str
    labels: int
    correct: int
    low: float  # the 95 % Wilson interval
    high: float

    @property
    def share(self) -> float:
        return self.correct / self.labels if self.labels else 0.0


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion (0, 1 when there is no data)."""
    if total == 0:
        return 0.0, 1.0
    p = correct / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    denominator = 1 + z * z / total
    return max(0.0, (centre - margin) / denominator), min(1.0, (centre + margin) / denominator)


def accuracy_by(
    labels: Iterable[EvaluationLabel],
    group_of: Callable[[EvaluationLabel], str],
    is_correct: Callable[[EvaluationLabel], bool | None],
) -> list[Accuracy]:
    """Return the accuracy per group, groups in order of first appearance; labels whose
    correctness is unknown (None) are left out."""
    counts: dict[str, list[int]] = {}
    for label in labels:
        correct = is_correct(label)
        if correct is None:
            continue
        tally = counts.setdefault(group_of(label), [0, 0])
        tally[0] += 1
        tally[1] += int(correct)
    return [
        Accuracy(group, total, correct, *wilson_interval(correct, total))
        for group, (total, correct) in counts.items()
    ]


def sentiment_is_right(label: EvaluationLabel) -> bool:
    return label.predicted_sentiment == label.sentiment


def theme_is_right(label: EvaluationLabel) -> bool | None:
    return label.theme_is_right


def evaluation_tables(labels: list[EvaluationLabel]) -> dict[str, list[Accuracy]]:
    """Return sentiment and theme accuracy overall, per source, per week of the items and
    per model version."""
    groupings: dict[str, Callable[[EvaluationLabel], str]] = {
        "overall": lambda label: "All labelled items",
        "source": lambda label: label.item.source.name,
        "week": lambda label: (
            f"{label.item.created_at:%G-W%V}" if label.item.created_at else "undated"
        ),
        "model": lambda label: label.model_version,
    }
    tables = {}
    for name, group_of in groupings.items():
        for measure, is_correct in (("sentiment", sentiment_is_right), ("theme", theme_is_right)):
            rows = accuracy_by(labels, group_of, is_correct)
            # Weeks read in order; other groups by how many labels they have.
            key = (lambda row: row.group) if name == "week" else (lambda row: -row.labels)
            tables[f"{measure}_{name}"] = sorted(rows, key=key)
    return tables


@dataclass(frozen=True)
class RatingAgreement:
    """How often a source's predictions agree with what its star ratings read as, and what
    its classifier was trained on."""

    agreement: Accuracy  # group: the source's name
    classifier: SentimentClassifier | None  # the latest fitted for the source


def rating_agreement() -> list[RatingAgreement]:
    """Return, per source with rated and predicted items (most rated first), the share of
    them whose predicted sentiment is what their rating reads as. The classifier learns
    from these ratings, so the figure is not held out."""
    rows = []
    for source in DataSource.objects.filter(items__rating__isnull=False).distinct():
        bounds = rating_bounds(source)
        if bounds is None:
            continue  # its ratings cannot be read as sentiment
        rated = FeedbackItem.objects.filter(
            source=source, rating__isnull=False, sentiment__predicted__gt=""
        ).values_list("rating", "sentiment__predicted")
        pairs = list(rated.iterator(chunk_size=5000))
        if not pairs:
            continue
        read_as = bounds.labels(np.array([rating for rating, _ in pairs], dtype=float))
        agree = int((read_as == [LABELS.index(label) for _, label in pairs]).sum())
        latest = source.sentiment_classifiers.order_by("-created_at", "-pk").first()
        agreement = Accuracy(source.name, len(pairs), agree, *wilson_interval(agree, len(pairs)))
        rows.append(RatingAgreement(agreement, latest))
    return sorted(rows, key=lambda row: -row.agreement.labels)


def next_item_to_label() -> FeedbackItem | None:
    """Return a random analysed item nobody has labelled yet: a random sample keeps the
    figures fair to the whole body of feedback."""
    unlabelled = FeedbackItem.objects.filter(
        sentiment__predicted__gt="", evaluation_labels__isnull=True
    )
    return unlabelled.select_related("source").order_by("?").first()


def assignment_to_check(item: FeedbackItem) -> ThemeAssignment | None:
    """The theme membership a person labelling the item is asked about: its nearest theme
    (an item may be in several), never a broad theme it is in through a sub-theme."""
    memberships = ThemeAssignment.objects.filter(item=item).exclude(method=AssignmentMethod.PARENT)
    return memberships.order_by("-similarity", "theme_id").first()


def record_label(
    item: FeedbackItem, sentiment: str, theme_is_right: bool | None, user: object
) -> EvaluationLabel:
    """Store a person's label beside what the machine said, and let the label correct the
    item's sentiment (it then trains the classifier like any correction)."""
    person = signed_in_person(user)
    machine = ItemSentiment.objects.select_related("llm_model", "classifier").get(item=item)
    assignment = assignment_to_check(item)
    label = EvaluationLabel.objects.create(
        item=item,
        labelled_by=person,
        sentiment=sentiment,
        predicted_sentiment=machine.predicted,
        model_version=_model_version(machine),
        theme_id=assignment.theme_id if assignment else None,
        theme_is_right=theme_is_right if assignment else None,
    )
    correct_sentiment(item, sentiment, person)
    return label


def _model_version(machine: ItemSentiment) -> str:
    llm = f"{machine.llm_model}" if machine.llm_model else "embeddings only"
    return f"{llm} / {machine.prompt_version or '-'} / classifier {machine.classifier_id}"
