"""Ratings read as sentiment: open supervision for a source's sentiment classifier.

A rating at or below the source's negative bound is negative, at or above its positive bound
positive, and between them neutral. Where the source sets no bounds they follow its rating
scale (ingestion.ratings): 1-5 stars read 1-2 negative, 3 neutral, 4-5 positive; 1-10 reads
1-4, 5-6, 7-10; 0-10 (NPS) reads detractors 0-6, passives 7-8, promoters 9-10. Ratings
whose scale is not known or whose bounds cross are not read at all until the source sets
its scale or its bounds.
"""

from dataclasses import dataclass

import numpy as np

from ingestion.ratings import SCALE_FACTS, RatingScale
from insights.pipeline.sentiment.prompt import LABELS


@dataclass(frozen=True)
class RatingBounds:
    negative_max: float
    positive_min: float

    @classmethod
    def of_scale(cls, scale: RatingScale) -> "RatingBounds":
        """The scale's own reading (module docstring)."""
        facts = SCALE_FACTS[scale]
        return cls(facts.negative_max, facts.positive_min)

    @classmethod
    def for_scale(
        cls,
        scale: RatingScale | None,
        negative_max: float | None = None,
        positive_min: float | None = None,
    ) -> "RatingBounds | None":
        """The bounds a source sets, the rest from its scale; None where ratings cannot be
        read (see the module's docstring)."""
        if scale is not None:
            default = cls.of_scale(scale)
            negative_max = default.negative_max if negative_max is None else negative_max
            positive_min = default.positive_min if positive_min is None else positive_min
        if negative_max is None or positive_min is None or negative_max >= positive_min:
            return None
        return cls(negative_max, positive_min)

    def labels(self, ratings: np.ndarray) -> np.ndarray:
        """Return a label index (LABELS) per rating, -1 where there is none (NaN)."""
        labels = np.full(len(ratings), LABELS.index("neutral"))
        labels[ratings <= self.negative_max] = LABELS.index("negative")
        labels[ratings >= self.positive_min] = LABELS.index("positive")
        labels[np.isnan(ratings)] = -1
        return labels

    def label(self, rating: float | None) -> str:
        """The label a rating reads as ("" for none)."""
        if rating is None:
            return ""
        index = int(self.labels(np.array([rating], dtype=float))[0])
        return LABELS[index] if index >= 0 else ""


def rating_labels(bounds: RatingBounds | None, ratings: np.ndarray) -> np.ndarray:
    """What each rating reads as under bounds (a LABELS index; -1 for none, and for every
    rating where the bounds are None)."""
    if bounds is None:
        return np.full(len(ratings), -1)
    return bounds.labels(ratings)
