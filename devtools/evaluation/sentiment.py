"""Sentiment on labeled sets (the airline tweets; Amazon device reviews, stars as labels):
accuracy, macro-F1, per-class F1 and the predicted class mix of the product's pipeline with
no labels and with some corrections, beside the VADER lexicon and the raw few-shot model.

Ours is insights.pipeline.sentiment.fitting's functions on arrays (no database): the language
model's scores on a pool of unlabeled tweets give the prior and the pseudo-labels (fit_sentiment),
labeled pool tweets are the corrections, and predict_distributions labels the test sample.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from devtools.evaluation.report import Row, Section
from insights.models import SentimentClassifier
from insights.pipeline.sentiment.fitting import (
    SentimentFit,
    fit_logistic,
    fit_sentiment,
    logistic_probabilities,
    macro_f1,
    predict_distributions,
)
from insights.pipeline.sentiment.prompt import LABELS

# Labeled examples (corrections) tried, besides none.
LABEL_COUNTS = (100, 300, 1000)
# Seeds for choosing the labeled examples: each labeled setting is their mean.
LABEL_SEEDS = (0, 1, 2)
# VADER's documented thresholds on the compound score.
VADER_THRESHOLD = 0.05
COLUMNS = (
    "method",
    "labels",
    "accuracy",
    "macro-F1",
    "F1 sd",
    "F1 neg/neu/pos",
    "predicted mix",
    "s/item",
    "fit s",
)


@dataclass(frozen=True)
class SentimentData:
    """Scores and vectors of the test sample and the scored pool, with the true labels."""

    raw_test: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    raw_pool: np.ndarray
    x_pool: np.ndarray
    y_pool: np.ndarray
    llm_seconds_per_item: float
    embed_seconds_per_item: float
    content_free: np.ndarray | None = None  # the model's scores of CONTENT_FREE_TEXTS
    rated: bool = False  # whether the pool's labels are its star ratings
    # The model's feature logits (llm.interfaces.LabelReading), one row per text.
    features_test: np.ndarray | None = None
    features_pool: np.ndarray | None = None


def label_indices(labels: list[str]) -> np.ndarray:
    """Return each label's position in LABELS."""
    return np.array([LABELS.index(label) for label in labels])


def corrections(y_pool: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Return the pool's corrections: the true label for count seeded rows, -1 elsewhere."""
    corrected = np.full(len(y_pool), -1)
    chosen = np.random.RandomState(1000 + seed).choice(len(y_pool), count, replace=False)
    corrected[chosen] = y_pool[chosen]
    return corrected


def as_classifier(fitted: SentimentFit) -> SentimentClassifier:
    """Return an unsaved classifier row, what predict_distributions reads."""
    return SentimentClassifier(
        prior=dict(zip(LABELS, fitted.prior.tolist(), strict=True)),
        calibration=fitted.calibration,
        classifier=fitted.classifier,
        uses_classifier=fitted.uses_classifier,
    )


def scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Return accuracy and macro-F1 over the three labels."""
    return float(accuracy_score(truth, predicted)), macro_f1(truth, predicted)


def class_figures(truth: np.ndarray, predicted: np.ndarray) -> dict[str, str]:
    """Return the per-class F1 and the predicted class mix, as "0.71/0.32/0.80" and
    "63/21/16 %" in LABELS order."""
    per_class = f1_score(truth, predicted, labels=range(len(LABELS)), average=None)
    mix = np.bincount(predicted, minlength=len(LABELS)) / max(1, len(predicted))
    return {
        "F1 neg/neu/pos": "/".join(f"{value:.2f}" for value in per_class),
        "predicted mix": "/".join(f"{100 * share:.0f}" for share in mix) + " %",
    }


def vader_labels(texts: list[str]) -> np.ndarray:
    """Return VADER's label per text: positive above +0.05 compound, negative below -0.05."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    compound = np.array([analyser.polarity_scores(text)["compound"] for text in texts])
    labels = np.full(len(texts), LABELS.index("neutral"))
    labels[compound >= VADER_THRESHOLD] = LABELS.index("positive")
    labels[compound <= -VADER_THRESHOLD] = LABELS.index("negative")
    return labels


Predictor = Callable[[SentimentData, np.ndarray], tuple[np.ndarray, float, float]]


def ours(
    data: SentimentData, corrected: np.ndarray, rated: np.ndarray | None = None
) -> tuple[np.ndarray, float, float]:
    """Return our predicted labels, fit seconds and prediction seconds per item."""
    began = time.perf_counter()
    fitted = as_classifier(
        fit_sentiment(
            data.raw_pool,
            data.x_pool,
            corrected,
            features=data.features_pool,
            rated=rated,
            content_free=data.content_free,
        )
    )
    fit_seconds = time.perf_counter() - began
    began = time.perf_counter()
    distributions = predict_distributions(data.raw_test, data.x_test, fitted, data.features_test)
    predicted = distributions.argmax(axis=1)
    return predicted, fit_seconds, (time.perf_counter() - began) / len(predicted)


def ours_without_features(
    data: SentimentData, corrected: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Ours with the classifier on the embeddings alone, as before the language model's
    feature logits joined them: what they add, in the same run."""
    return ours(replace(data, features_pool=None, features_test=None), corrected)


def ours_with_ratings(
    data: SentimentData, corrected: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Ours with every pool item's star rating as a weak label, beside any corrections."""
    return ours(data, corrected, rated=data.y_pool)


def labels_only(data: SentimentData, corrected: np.ndarray) -> tuple[np.ndarray, float, float]:
    """A classifier on the embeddings of the labeled examples alone: what a team with labels
    and no language model would train."""
    rows = corrected >= 0
    began = time.perf_counter()
    model = fit_logistic(data.x_pool[rows], corrected[rows], np.ones(int(rows.sum())))
    fit_seconds = time.perf_counter() - began
    began = time.perf_counter()
    predicted = logistic_probabilities(model, data.x_test).argmax(axis=1)
    return predicted, fit_seconds, (time.perf_counter() - began) / len(predicted)


def labeled_rows(
    name: str, predictor: Predictor, data: SentimentData, count: int, extra_s: float
) -> Row:
    """Return the row of one method at one number of labels, over LABEL_SEEDS (one seed
    when there are no labels to choose)."""
    seeds = LABEL_SEEDS if count else LABEL_SEEDS[:1]
    accuracies, f1s, fits, per_item = [], [], [], []
    for seed in seeds:
        predicted, fit_seconds, seconds = predictor(data, corrections(data.y_pool, count, seed))
        accuracy, macro_f1 = scores(data.y_test, predicted)
        accuracies.append(accuracy)
        f1s.append(macro_f1)
        fits.append(fit_seconds)
        per_item.append(seconds)
    return {
        "method": name,
        "labels": count,
        "accuracy": float(np.mean(accuracies)),
        "macro-F1": float(np.mean(f1s)),
        "F1 sd": float(np.std(f1s)) if count else None,
        **class_figures(data.y_test, predicted),  # the last seed's
        "s/item": extra_s + float(np.mean(per_item)),
        "fit s": float(np.mean(fits)),
    }


def fixed_rule_row(name: str, predicted: np.ndarray, truth: np.ndarray, seconds: float) -> Row:
    accuracy, macro_f1 = scores(truth, predicted)
    return {
        "method": name,
        "labels": "0 (learns none)",
        "accuracy": accuracy,
        "macro-F1": macro_f1,
        "F1 sd": None,
        **class_figures(truth, predicted),
        "s/item": seconds,
        "fit s": None,
    }


@dataclass(frozen=True)
class SentimentSet:
    """Which labeled set a sentiment section measures, for its title and notes."""

    key: str  # the section's key in the report
    title: str
    items: str  # what its items are called: "tweets", "reviews"
    labels_from: str  # where the true labels come from


AIRLINE_TWEETS = SentimentSet(
    "sentiment", "Sentiment on airline tweets", "tweets", "the annotators' sentiment"
)
AMAZON_REVIEWS = SentimentSet(
    "sentiment_reviews",
    "Sentiment on Amazon device reviews (stars as labels)",
    "reviews",
    "stars: 1-2 negative, 3 neutral, 4-5 positive",
)


def evaluate_sentiment(
    data: SentimentData,
    test_texts: list[str],
    label_counts: tuple[int, ...] = LABEL_COUNTS,
    labeled_set: SentimentSet = AIRLINE_TWEETS,
) -> Section:
    """Return the sentiment section: ours with no labels and with label_counts, the peers."""
    per_item_ours = data.llm_seconds_per_item + data.embed_seconds_per_item
    rows = [
        labeled_rows(
            "ours: calibrated LLM + embedding classifier", ours, data, count, per_item_ours
        )
        for count in (0, *label_counts)
    ]
    rows += [
        labeled_rows(
            "ours, classifier on embeddings alone (no LLM features)",
            ours_without_features,
            data,
            count,
            per_item_ours,
        )
        for count in (0, *label_counts)
    ]
    if data.rated:
        with_ratings = labeled_rows(
            "ours, the pool's star ratings as supervision",
            ours_with_ratings,
            data,
            0,
            per_item_ours,
        )
        rows.append({**with_ratings, "labels": f"{len(data.y_pool):,} ratings"})
    rows += [
        labeled_rows(
            "logistic regression on embeddings, labels only",
            labels_only,
            data,
            count,
            data.embed_seconds_per_item,
        )
        for count in label_counts
    ]
    began = time.perf_counter()
    vader = vader_labels(test_texts)
    vader_seconds = (time.perf_counter() - began) / len(test_texts)
    rows.append(fixed_rule_row("VADER lexicon (compound ±0.05)", vader, data.y_test, vader_seconds))
    rows.append(
        fixed_rule_row(
            "raw few-shot LLM (argmax, uncalibrated)",
            data.raw_test.argmax(axis=1),
            data.y_test,
            data.llm_seconds_per_item,
        )
    )
    notes = _notes(data, labeled_set)
    return Section(labeled_set.key, labeled_set.title, COLUMNS, rows, notes)


def _notes(data: SentimentData, labeled_set: SentimentSet) -> list[str]:
    shares = np.bincount(data.y_test, minlength=len(LABELS)) / len(data.y_test)
    mix = ", ".join(f"{label} {share:.0%}" for label, share in zip(LABELS, shares, strict=True))
    items = labeled_set.items
    return [
        f"Test: a seeded sample of {len(data.y_test):,} {items} ({mix}; true labels: "
        f"{labeled_set.labels_from}); the pipeline is fitted on {len(data.y_pool):,} other "
        f"{items} scored by the LLM, unlabeled.",
        f"Labels: that many pool {items} given their true label as corrections, chosen with "
        f"seeds {', '.join(map(str, LABEL_SEEDS))}; figures are the mean, F1 sd over seeds.",
        f"s/item: LLM scoring {data.llm_seconds_per_item:.3f} s and embedding "
        f"{data.embed_seconds_per_item:.4f} s per item, measured when first computed (cached "
        "since), plus prediction; fit s: fitting once, a one-off cost.",
        "VADER and the raw LLM learn nothing from labels; the labels-only classifier is what "
        "a team with labels but no language model would train.",
    ]
