"""Star ratings read as sentiment: open supervision for a source's sentiment classifier.

A rating at or below the source's negative bound is negative, at or above its positive bound
positive, and between them neutral. Where the source sets no bounds they follow the scale its
ratings use: 1-5 stars read 1-2 negative, 3 neutral, 4-5 positive; 1-10 reads 1-4, 5-6, 7-10;
anything larger is taken as 0-100 (up to 40 negative, from 70 positive).
"""

from dataclasses import dataclass

import numpy as np

from insights.pipeline.sentiment.prompt import LABELS

# The top of each scale ratings are read on: (negative up to, positive from).
SCALES = {5.0: (2.0, 4.0), 10.0: (4.0, 7.0), 100.0: (40.0, 70.0)}


@dataclass(frozen=True)
class RatingBounds:
    negative_max: float
    positive_min: float

    @classmethod
    def for_ratings(
        cls, highest: float, negative_max: float | None = None, positive_min: float | None = None
    ) -> "RatingBounds":
        """The bounds a source sets, or else those of the smallest scale that holds its
        highest rating."""
        top = next((scale for scale in SCALES if highest <= scale), max(SCALES))
        negative, positive = SCALES[top]
        return cls(
            negative if negative_max is None else negative_max,
            positive if positive_min is None else positive_min,
        )

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
        return LABELS[int(self.labels(np.array([rating], dtype=float))[0])]
