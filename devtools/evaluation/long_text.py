"""Sentiment of long feedback: every Amazon device review longer than a post, read as the
product reads it (whole and unit by unit, the readings combined: insights.pipeline.units,
sentiment.prompt.score_feedback), against the same reviews read whole, as the product read
every item before issue 20, and read unit by unit alone, in the same run. Stars are the
truth (1-2 negative, 3 neutral, 4-5 positive).

Only the language model's part is compared (its raw argmax and its content-free
calibration, the product's default without labels): the embedding classifier and the ratings
come after it and are measured in the sentiment_reviews step.
"""

from dataclasses import dataclass

import numpy as np

from devtools.evaluation.report import Row, Section
from devtools.evaluation.sentiment import class_figures, scores
from insights.pipeline.sentiment.fitting import calibrate
from insights.pipeline.units import SPLIT_ABOVE_CHARS

COLUMNS = (
    "reading",
    "calibration",
    "accuracy",
    "macro-F1",
    "F1 neg/neu/pos",
    "predicted mix",
    "s/item",
)


@dataclass(frozen=True)
class LongTextScores:
    truth: np.ndarray  # label index per review
    whole: np.ndarray  # raw scores of each review read whole
    units: np.ndarray  # the mean of its units' raw scores
    both: np.ndarray  # the two combined, as the product does
    whole_seconds: float  # per review
    units_seconds: float
    units_per_review: float
    content_free: np.ndarray  # the model's scores of texts that say nothing


def evaluate_long_reviews(data: LongTextScores) -> Section:
    prior = data.content_free.mean(axis=0)
    prior = prior / prior.sum()
    rows = []
    for reading, raw, seconds in (
        ("whole review, cut to 1,000 bytes (before)", data.whole, data.whole_seconds),
        ("unit by unit alone, their mean", data.units, data.units_seconds),
        (
            "whole and unit by unit (the product)",
            data.both,
            data.whole_seconds + data.units_seconds,
        ),
    ):
        for calibration, table in (("none", raw), ("content-free", calibrate(raw, prior))):
            rows.append(_row(reading, calibration, table.argmax(axis=1), data.truth, seconds))
    shares = np.bincount(data.truth, minlength=3) / len(data.truth)
    notes = [
        f"{len(data.truth):,} reviews longer than {SPLIT_ABOVE_CHARS} characters (negative "
        f"{shares[0]:.0%}, neutral {shares[1]:.0%}, positive {shares[2]:.0%}); "
        f"{data.units_per_review:.1f} units a review.",
        "s/item: the language model's seconds per review, measured when first computed "
        "(cached since).",
    ]
    return Section(
        "sentiment_long",
        "Sentiment of long reviews: read whole or unit by unit",
        COLUMNS,
        rows,
        notes,
    )


def _row(
    reading: str, calibration: str, predicted: np.ndarray, truth: np.ndarray, seconds: float
) -> Row:
    accuracy, macro_f1 = scores(truth, predicted)
    return {
        "reading": reading,
        "calibration": calibration,
        "accuracy": accuracy,
        "macro-F1": macro_f1,
        **class_figures(truth, predicted),
        "s/item": seconds,
    }
