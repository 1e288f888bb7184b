"""What each theme costs in ratings (issue 22): the difference between the average rating of
a theme's items and of the other rated items in view, with its 95 % interval, and what the
average would be if the theme's items were rated like the others. The pages read the sums
from the daily counts (insights.dashboards.daily_counts), whose rating points are the
ratings rounded half up; a report reads them from its period's items. Either way, one
grouped query for the themes and one for the whole.

Ratings on different scales do not add up: each is measured within the sources of one
scale (ingestion.ratings), and a view shows the scale most of its rated items are on.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from math import sqrt
from typing import Any

from django.db.models import Count, QuerySet, Sum

from ingestion.models import DataSource
from ingestion.ratings import RatingScale
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.overview import ThemeStats

# Below this many rated items, in the theme or among the others, a difference of averages
# swings with a handful of ratings: the page says so instead of showing a number.
IMPACT_MIN_RATED = 30
# The normal quantile of a two-sided 95 % interval; with 30 items or more a t quantile
# differs from it by under 5 %.
Z_95 = 1.96
# What to fix first: growth weighs a theme's cost at most this many times (a theme twice
# as large as the week before, or new).
GROWTH_WEIGHT_CAP = 2.0


@dataclass(frozen=True)
class RatingSums:
    """The count, sum and sum of squares of some ratings: enough for their mean and
    variance, and for those of what is left when one group is taken out of another."""

    items: int = 0
    total: float = 0.0
    squares: float = 0.0

    @classmethod
    def of(cls, ratings: Iterable[float]) -> "RatingSums":
        """The sums of the ratings given one by one."""
        values = [float(rating) for rating in ratings]
        return cls(len(values), sum(values), sum(value * value for value in values))

    def __add__(self, other: "RatingSums") -> "RatingSums":
        return RatingSums(
            self.items + other.items, self.total + other.total, self.squares + other.squares
        )

    def __sub__(self, other: "RatingSums") -> "RatingSums":
        return RatingSums(
            self.items - other.items, self.total - other.total, self.squares - other.squares
        )

    @property
    def mean(self) -> float | None:
        return self.total / self.items if self.items else None

    @property
    def variance(self) -> float:
        """The sample variance (0 for fewer than two ratings)."""
        if self.items < 2:
            return 0.0
        return max(0.0, (self.squares - self.total**2 / self.items) / (self.items - 1))


NO_RATINGS = RatingSums()


@dataclass(frozen=True)
class ThemeImpact:
    """One theme's ratings against the other rated items in view, on one scale."""

    theme_id: int
    scale: RatingScale
    theme: RatingSums  # its rated items
    rest: RatingSums  # the other rated items in view (an item in several themes: in each)

    @property
    def stable(self) -> bool:
        """Whether both groups have enough ratings for the difference to mean something."""
        return min(self.theme.items, self.rest.items) >= IMPACT_MIN_RATED

    @property
    def difference(self) -> float:
        """The theme's average rating minus the others' (negative: it drags ratings down)."""
        return (self.theme.mean or 0.0) - (self.rest.mean or 0.0)

    @property
    def interval(self) -> tuple[float, float]:
        """The difference's 95 % interval (Welch: each group with its own variance)."""
        spread = Z_95 * sqrt(
            self.theme.variance / max(self.theme.items, 1)
            + self.rest.variance / max(self.rest.items, 1)
        )
        return self.difference - spread, self.difference + spread

    @property
    def is_significant(self) -> bool:
        low, high = self.interval
        return self.stable and (high < 0 or low > 0)

    @property
    def average_now(self) -> float:
        """The average rating of every rated item in view."""
        return ((self.theme + self.rest).mean) or 0.0

    @property
    def average_if_like_rest(self) -> float:
        """The average if the theme's items were rated like the others: the others' own."""
        return self.rest.mean or 0.0

    @property
    def gain(self) -> float:
        """How much the average would rise if the theme's items were rated like the others
        (negative where they are rated better)."""
        return self.average_if_like_rest - self.average_now

    @property
    def summary(self) -> str:
        """The impact in words, as the theme page and the reports write it."""
        scale = f"on the {RatingScale(self.scale).label} scale"
        counts = f"{self.theme.items:,} rated items"
        if not self.stable:
            return (
                f"{counts} {scale}, against {self.rest.items:,} others: too few for a stable "
                f"estimate of the theme's impact ({IMPACT_MIN_RATED} or more each needed)."
            )
        low, high = self.interval
        doubt = "" if self.is_significant else ", which includes no difference"
        return (
            f"{counts} average {self.theme.mean or 0:.2f} against {self.rest.mean or 0:.2f} for "
            f"the other {self.rest.items:,} {scale}: a difference of {self.difference:+.2f} "
            f"(95 % interval {low:+.2f} to {high:+.2f}{doubt}). If these items were rated like "
            f"the others, the average would move from {self.average_now:.2f} to "
            f"{self.average_if_like_rest:.2f}."
        )


@dataclass(frozen=True)
class FixFirst:
    """A theme whose items are rated significantly below the others, with its priority:
    the rise of the average (impact times volume) times its growth weight."""

    theme: ThemeStats
    impact: ThemeImpact
    growth_weight: float

    @property
    def priority(self) -> float:
        return self.impact.gain * self.growth_weight


@dataclass(frozen=True)
class Impacts:
    """The themes' impacts on the scale most rated items are on (None: no rating on a
    known scale), with the rating sums of all of those items."""

    scale: RatingScale | None
    whole: RatingSums
    by_theme: dict[int, ThemeImpact]


NO_IMPACTS = Impacts(None, NO_RATINGS, {})


def view_impacts(filters: FeedbackFilters) -> Impacts:
    """The impact of every theme among the items the filters let through, on the scale
    most of their rated items are on."""
    scales = _source_scales()
    return _impacts(
        _sums(filters.item_counts(), RATING_POINTS, scales),
        _sums(filters.theme_counts(), RATING_POINTS, scales),
    )


def theme_impact_by_scale(filters: FeedbackFilters, theme_id: int) -> list[ThemeImpact]:
    """One theme's impact on each scale its rated items in view are on, most items first."""
    scales = _source_scales()
    whole = _sums(filters.item_counts(), RATING_POINTS, scales)
    own = _sums(filters.theme_counts().filter(theme=theme_id), RATING_POINTS, scales)
    impacts = [
        ThemeImpact(theme_id, scale, sums, whole.get((scale,), NO_RATINGS) - sums)
        for (scale, _), sums in own.items()
    ]
    return sorted(impacts, key=lambda impact: -impact.theme.items)


def item_impacts(items: QuerySet[Any], assignments: QuerySet[Any]) -> Impacts:
    """The impact of each theme among items (FeedbackItem rows) from their exact ratings;
    assignments: their ThemeAssignment rows of the themes to measure."""
    scales = _source_scales()
    return _impacts(
        _sums(items, ITEM_RATINGS, scales), _sums(assignments, ASSIGNED_RATINGS, scales)
    )


def fix_first(themes: Iterable[ThemeStats], impacts: Impacts) -> list[FixFirst]:
    """The themes rated significantly below the others, highest priority first."""
    ranked = []
    for theme in themes:
        impact = impacts.by_theme.get(theme.id)
        if impact is not None and impact.is_significant and impact.difference < 0:
            ranked.append(FixFirst(theme, impact, growth_weight(theme)))
    return sorted(ranked, key=lambda row: (-row.priority, row.theme.id))


def growth_weight(theme: ThemeStats) -> float:
    """1 for a theme that did not grow in the latest full week, up to GROWTH_WEIGHT_CAP for
    one that doubled or is new."""
    if theme.latest_week <= theme.previous_week:
        return 1.0
    if theme.growth is None:
        return GROWTH_WEIGHT_CAP
    return min(1.0 + theme.growth, GROWTH_WEIGHT_CAP)


def fix_first_rule() -> str:
    """The ranking in words, for the pages' tooltips and reports."""
    return (
        "Themes whose items are rated below the other rated items (the 95 % interval of the "
        f"difference below zero, {IMPACT_MIN_RATED} or more rated items), ranked by how much "
        "the average rating would rise if their items were rated like the others (the "
        "difference times the theme's share of the rated items), times growth: 1 + the "
        "growth on the week before (in a report, the period before), from 1 (no growth) to "
        f"{GROWTH_WEIGHT_CAP:g} (doubled, or new)."
    )


@dataclass(frozen=True)
class _Ratings:
    """Where grouped rows keep their source, their rating and how many items they count."""

    source: str
    rating: str
    items: Any  # an aggregate


RATING_POINTS = _Ratings("source", "rating_point", Sum("items"))
ITEM_RATINGS = _Ratings("source", "rating", Count("pk"))
ASSIGNED_RATINGS = _Ratings("item__source", "item__rating", Count("pk"))


def _sums(
    rows: QuerySet[Any], ratings: _Ratings, scales: dict[int, RatingScale]
) -> dict[tuple[Any, ...], RatingSums]:
    """The rating sums of the rows per (scale,) and, for rows of themes (with a "theme"
    column), per (scale, theme): one GROUP BY per source and rating. Sources not in scales
    (by id; their scale is not known) are left out."""
    by = ("theme",) if "theme" in {field.name for field in rows.model._meta.fields} else ()
    grouped = (
        rows.filter(**{f"{ratings.rating}__isnull": False})
        .order_by()
        .values(ratings.source, ratings.rating, *by)
        .annotate(counted=ratings.items)
    )
    sums: dict[tuple[Any, ...], RatingSums] = {}
    for row in grouped:
        scale = scales.get(row[ratings.source])
        if scale is None:
            continue
        key = (scale, *(row[name] for name in by))
        rating, counted = float(row[ratings.rating]), row["counted"]
        sums[key] = sums.get(key, NO_RATINGS) + RatingSums(
            counted, counted * rating, counted * rating**2
        )
    return sums


def _impacts(
    whole: dict[tuple[Any, ...], RatingSums], of_themes: dict[tuple[Any, ...], RatingSums]
) -> Impacts:
    if not whole:
        return NO_IMPACTS
    scale = max(whole, key=lambda key: (whole[key].items, key[0].value))[0]
    on_scale = whole[(scale,)]
    by_theme = {
        theme_id: ThemeImpact(theme_id, scale, sums, on_scale - sums)
        for (on, theme_id), sums in of_themes.items()
        if on == scale
    }
    return Impacts(scale, on_scale, by_theme)


def _source_scales() -> dict[int, RatingScale]:
    sources = DataSource.objects.only("pk", "rating_scale", "rating_lowest", "rating_highest")
    return {
        source.pk: scale for source in sources if (scale := source.scale_of_ratings) is not None
    }
