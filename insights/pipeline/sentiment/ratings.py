"""Star ratings read as sentiment: open supervision for a source's sentiment classifier.

A rating at or below the source's negative bound is negative, at or above its positive bound
positive, and between them neutral. Where the source sets no bounds they follow the scale its
ratings use: 1-5 stars read 1-2 negative, 3 neutral, 4-5 positive; 1-10 reads 1-4, 5-6, 7-10.
Ratings whose scale cannot be told (none above 3: thumbs, or a 1-3 scale) or whose bounds
cross are not read at all until the source sets its bounds.
"""

from dataclasses import dataclass

import numpy as np

from insights.pipeline.sentiment.prompt import LABELS

# The top of each scale ratings are read on: (negative up to, positive from). The importer
# takes ratings up to 10 (ingestion.normalise.parse_rating).
SCALES = {5.0: (2.0, 4.0), 10.0: (4.0, 7.0)}
# Below this highest rating the scale is not told apart from a 1-3 or a 0-1 one.
LOWEST_TOP_RATING = 4.0


@dataclass(frozen=True)
class RatingBounds:
    negative_max: float
    positive_min: float

    @classmethod
    def for_ratings(
        cls, highest: float, negative_max: float | None = None, positive_min: float | None = None
    ) -> "RatingBounds | None":
        """The bounds a source sets, the rest from the smallest scale that holds its highest
        rating; None where ratings cannot be read (see the module's docstring)."""
        scale = next((top for top in SCALES if highest <= top), None)
        if highest < LOWEST_TOP_RATING or scale is None:
            scale = None
        if scale is None and (negative_max is None or positive_min is None):
            return None
        negative, positive = SCALES[scale] if scale is not None else (0.0, 0.0)
        bounds = cls(
            negative if negative_max is None else negative_max,
            positive if positive_min is None else positive_min,
        )
        return bounds if bounds.negative_max < bounds.positive_min else None

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
