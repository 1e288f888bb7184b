"""Rating scales: what a source's ratings are out of, how they are shown, and where they read
as negative or positive.

A source's scale is the one an admin sets, or else the one its ratings show: any rating above
5 means a ten-point scale, 0-10 (likelihood to recommend, NPS) where a 0 was seen and 1-10
otherwise; ratings of 4 or 5 at most mean 1-5 stars. Ratings no higher than 3 (thumbs, a 1-3
scale, or only bad reviews so far) do not tell a scale. A 1-5 satisfaction score (CSAT)
reads as stars do but is written "4/5": its ratings cannot tell it from stars, so it is
only ever set (on the source's page, or when a file is mapped).
"""

from dataclasses import dataclass

from django.db import models


class RatingScale(models.TextChoices):
    STARS = "stars", "1-5 stars"
    TEN = "ten", "1-10"
    NPS = "nps", "0-10, likelihood to recommend (NPS)"
    CSAT = "csat", "1-5, satisfaction (CSAT)"


@dataclass(frozen=True)
class ScaleFacts:
    lowest: int
    highest: int
    # The default reading: negative up to, positive from (between them: neutral).
    negative_max: float
    positive_min: float
    # How one rating is written: "4★", "8/10".
    suffix: str


SCALE_FACTS = {
    RatingScale.STARS: ScaleFacts(1, 5, 2.0, 4.0, "★"),
    RatingScale.TEN: ScaleFacts(1, 10, 4.0, 7.0, "/10"),
    # Net Promoter Score: detractors 0-6, passives 7-8, promoters 9-10.
    RatingScale.NPS: ScaleFacts(0, 10, 6.0, 9.0, "/10"),
    # Customer satisfaction: 1-2 dissatisfied, 4-5 satisfied (the CSAT score's share).
    RatingScale.CSAT: ScaleFacts(1, 5, 2.0, 4.0, "/5"),
}
# Below this highest rating no scale is told apart from a 1-3 or a 0-1 one.
LOWEST_TELLING_RATING = 4.0


def detect_scale(lowest: float | None, highest: float | None) -> RatingScale | None:
    """The scale that ratings from lowest to highest show (None: they show none)."""
    if lowest is None or highest is None or highest < LOWEST_TELLING_RATING:
        return None
    if highest > SCALE_FACTS[RatingScale.STARS].highest:
        return RatingScale.NPS if lowest < 1 else RatingScale.TEN
    return RatingScale.STARS


def format_rating(rating: float, scale: RatingScale | None) -> str:
    """A rating as people read it on its scale ("4★", "8/10"; "rated 2" where the scale is
    not known)."""
    if scale is None:
        return f"rated {rating:g}"
    return f"{rating:g}{SCALE_FACTS[scale].suffix}"
