"""Aspects of long reviews: the SemEval-2015 restaurant and hotel reviews, imported as one
workspace, each of their sentences labelled with the aspects it speaks to (food, service,
rooms, location...) and their polarity. A review is its sentences joined, as its customer
wrote it (5.8 sentences on average).

Themes: the product's clustering (insights.pipeline.themes.clustering.discover_themes) of
the reviews' units (insights.pipeline.units; a review no longer than a post is one unit),
against the same clustering of the reviews whole, as the product themed every item before
issue 20, on the same embeddings. Each sentence labelled with one aspect gets the theme of
the unit it stands in (or of its review): ARI and NMI against the aspects, sentences of no
theme counting as one more cluster.

Sentiment per aspect: each sentence whose opinions share one polarity, read as the product
reads the part of a review in a theme (the language model's raw scores of the unit it stands
in), against the one label the review whole gets, which is all an item-level product can
show for each of its aspects. The language model's part alone, raw and with the content-free
calibration (the product's default without labels).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from devtools.evaluation.datasets import AspectReview
from devtools.evaluation.report import Row, Section
from devtools.evaluation.sentiment import class_figures, scores
from devtools.evaluation.themes import clustering_scores
from insights.pipeline.sentiment.fitting import calibrate
from insights.pipeline.sentiment.prompt import LABELS
from insights.pipeline.themes.clustering import discover_themes
from insights.pipeline.units import Unit

THEME_COLUMNS = ("reading", "ARI", "NMI", "unassigned", "themes", "largest theme")
SENTIMENT_COLUMNS = ("reading", "calibration", "accuracy", "macro-F1", "F1 neg/neu/pos")


@dataclass(frozen=True)
class AspectUnits:
    reviews: list[AspectReview]
    units: list[list[Unit]]  # each review's units, in order

    def unit_of_sentences(self) -> list[list[int]]:
        """For each review, the index (among all units, in order) of the unit each of its
        sentences stands in: the one its middle falls in."""
        found, first = [], 0
        for review, units in zip(self.reviews, self.units, strict=True):
            found.append(
                [first + _unit_at((s.start + s.end) // 2, units) for s in review.sentences]
            )
            first += len(units)
        return found


def _unit_at(position: int, units: list[Unit]) -> int:
    for index, unit in enumerate(units):
        if position < unit.end:
            return index
    return len(units) - 1


def evaluate_aspect_themes(
    data: AspectUnits, review_vectors: np.ndarray, unit_vectors: np.ndarray, seed: int = 0
) -> Section:
    sentences = [
        (n, k, next(iter(s.aspects)))
        for n, review in enumerate(data.reviews)
        for k, s in enumerate(review.sentences)
        if len(s.aspects) == 1
    ]
    truth = [aspect for _, _, aspect in sentences]
    unit_of = data.unit_of_sentences()
    by_review = discover_themes(review_vectors, seed=seed).labels
    owners = np.array([n for n, units in enumerate(data.units) for _ in units])
    by_unit = discover_themes(unit_vectors, seed=seed, owners=owners)
    specific, top = by_unit.labels, by_unit.top_labels()
    rows = [
        _theme_row("reviews whole (before)", truth, [by_review[n] for n, _, _ in sentences]),
        _theme_row(
            "unit by unit (the product)", truth, [specific[unit_of[n][k]] for n, k, _ in sentences]
        ),
        _theme_row(
            "unit by unit, top-level themes", truth, [top[unit_of[n][k]] for n, k, _ in sentences]
        ),
    ]
    notes = [
        f"{len(data.reviews)} reviews, {len(unit_vectors):,} units; {len(sentences):,} "
        f"sentences labelled with one of {len(set(truth))} aspects (domain and entity).",
        "largest theme: the share of those sentences in the biggest theme.",
        f"Unit by unit the themes go {by_unit.levels()} level(s) deep; the product reads the "
        "most specific, a person drilling down starts from the top-level themes.",
    ]
    return Section("aspect_themes", "Aspects of long reviews as themes", THEME_COLUMNS, rows, notes)


def _theme_row(reading: str, truth: list[str], labels: list[int]) -> Row:
    found = np.array(labels)
    themed = found[found >= 0]
    largest = np.bincount(themed).max() / len(found) if len(themed) else 0.0
    return {"reading": reading, **clustering_scores(truth, found), "largest theme": largest}


def evaluate_aspect_sentiment(
    data: AspectUnits,
    review_scores: np.ndarray,
    unit_scores: np.ndarray,
    content_free: np.ndarray,
) -> Section:
    unit_of = data.unit_of_sentences()
    opinions = [
        (n, k, LABELS.index(next(iter(s.polarities))))
        for n, review in enumerate(data.reviews)
        for k, s in enumerate(review.sentences)
        if len(s.polarities) == 1 and next(iter(s.polarities)) in LABELS
    ]
    truth = np.array([label for _, _, label in opinions])
    prior = content_free.mean(axis=0)
    prior = prior / prior.sum()
    readings: list[tuple[str, Callable[[int, int], np.ndarray]]] = [
        ("the review's one label (before)", lambda n, k: review_scores[n]),
        ("the unit it stands in (the product)", lambda n, k: unit_scores[unit_of[n][k]]),
    ]
    rows = []
    for reading, score_of in readings:
        raw = np.array([score_of(n, k) for n, k, _ in opinions])
        for calibration, table in (("none", raw), ("content-free", calibrate(raw, prior))):
            accuracy, macro_f1 = scores(truth, table.argmax(axis=1))
            figures = class_figures(truth, table.argmax(axis=1))
            rows.append(
                {
                    "reading": reading,
                    "calibration": calibration,
                    "accuracy": accuracy,
                    "macro-F1": macro_f1,
                    "F1 neg/neu/pos": figures["F1 neg/neu/pos"],
                }
            )
    shares = np.bincount(truth, minlength=3) / len(truth)
    notes = [
        f"{len(truth):,} sentences whose opinions share one polarity (negative "
        f"{shares[0]:.0%}, neutral {shares[1]:.0%}, positive {shares[2]:.0%})."
    ]
    return Section(
        "aspect_sentiment",
        "Sentiment per aspect of long reviews",
        SENTIMENT_COLUMNS,
        rows,
        notes,
    )
