"""Impact of themes on ratings (issue 22), on the Amazon device reviews and their stars:
the product's figures (insights.dashboards.impact: each theme's average against the other
reviews', with a 95 % interval) beside a plain regression of the rating on every theme's
membership at once (least squares, one 0/1 column per theme and an intercept), on themes
discovered as the product discovers them (long reviews unit by unit, a review in each theme
one of its units is in).

The two answer different questions: the product compares a theme's reviews with the rest,
the regression asks what membership adds with every other theme held fixed. Where they
agree on which themes cost the most, the product's simpler figure (which a PM can read)
ranks the same themes first. Both rankings are by the average's rise: the product's gain
(the difference times the theme's share of the reviews) and the regression's coefficient
times the same share; the product ranks only the themes it finds significantly below.
"""

from collections.abc import Callable, Sequence

import numpy as np

from devtools.evaluation.report import Section
from ingestion.ratings import RatingScale
from insights.dashboards.impact import RatingSums, ThemeImpact
from insights.pipeline.themes.clustering import NO_THEME, discover_themes

TOP = 5
SEEDS = (0, 1, 2)
COLUMNS = (
    "seed",
    "themes",
    "stable",
    "significantly below",
    "product's top 5",
    "regression's top 5",
    "top 5 in common",
    "same order",
    "rank correlation (stable themes)",
)


def evaluate_impact(
    ratings: Sequence[float],
    unit_vectors: np.ndarray,
    unit_owners: np.ndarray,
    on_progress: Callable[[int, int], None] | None = None,
) -> Section:
    """ratings: each review's stars; unit_owners: the review each unit row is of."""
    stars = np.asarray(ratings, dtype=float)
    rows = []
    for step, seed in enumerate(SEEDS):
        clustering = discover_themes(unit_vectors, seed=seed, owners=unit_owners)
        members = memberships(clustering.labels, unit_owners, len(stars))
        rows.append({"seed": seed, **compare(stars, members)})
        if on_progress:
            on_progress(step + 1, len(SEEDS))
    return Section(
        "impact",
        f"Impact of themes on ratings: {len(stars):,} Amazon device reviews (1-5 stars)",
        COLUMNS,
        rows,
        [
            "Product: each theme's average rating against the other reviews' (a review in "
            "each theme one of its units is in), ranked by the rise of the average were its "
            "reviews rated like the others, among the themes whose 95 % interval is below "
            "zero. Regression: least squares of the rating on every theme's 0/1 membership "
            "and an intercept, ranked by the coefficient times the theme's share.",
            "Top 5 as theme sizes (reviews); in common: how many of the product's top 5 are "
            "in the regression's; same order: the same themes in the same order. Rank "
            "correlation: Spearman's, of the two rise figures over every stable theme.",
            "Target (issue 22): the same ranking of the top five themes.",
        ],
    )


def memberships(labels: np.ndarray, owners: np.ndarray, reviews: int) -> np.ndarray:
    """A reviews-by-themes 0/1 matrix: review i is in theme j when one of its units is."""
    themes = sorted(set(labels.tolist()) - {NO_THEME})
    column = {theme: j for j, theme in enumerate(themes)}
    matrix = np.zeros((reviews, len(themes)), dtype=np.float64)
    for owner, label in zip(owners.tolist(), labels.tolist(), strict=True):
        if label != NO_THEME:
            matrix[owner, column[label]] = 1.0
    return matrix


def compare(stars: np.ndarray, members: np.ndarray) -> dict[str, object]:
    """The product's ranking against the regression's, for one clustering."""
    whole = RatingSums.of(stars)
    impacts = [
        ThemeImpact(j, RatingScale.STARS, part, whole - part)
        for j in range(members.shape[1])
        if (part := RatingSums.of(stars[members[:, j] > 0])).items
    ]
    stable = [impact for impact in impacts if impact.stable]
    below = [i for i in stable if i.is_significant and i.difference < 0]
    product = [i.theme_id for i in sorted(below, key=lambda i: -i.gain)][:TOP]
    coefficients = _regression(stars, members)
    share = members.sum(axis=0) / len(stars)
    regression_rise = -coefficients * share
    regression = [int(j) for j in np.argsort(-regression_rise, kind="stable")[:TOP]]
    correlation = (
        _rank_correlation(
            np.array([i.gain for i in stable]), regression_rise[[i.theme_id for i in stable]]
        )
        if len(stable) > 2
        else None
    )
    sizes = members.sum(axis=0).astype(int)
    return {
        "themes": members.shape[1],
        "stable": len(stable),
        "significantly below": len(below),
        "product's top 5": " ".join(str(sizes[j]) for j in product),
        "regression's top 5": " ".join(str(sizes[j]) for j in regression),
        "top 5 in common": len(set(product) & set(regression)),
        "same order": product == regression[: len(product)] and len(product) == TOP,
        "rank correlation (stable themes)": correlation,
    }


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's: the correlation of the ranks (ties broken by order: rare in these)."""
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def _regression(stars: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Each theme's coefficient in the least-squares fit of the rating on the memberships
    and an intercept (minimum-norm where columns are collinear)."""
    design = np.hstack([np.ones((len(stars), 1)), members])
    solution, *_ = np.linalg.lstsq(design, stars, rcond=None)
    return np.asarray(solution[1:])
