"""What counts as an alert: the tests a week's counts are put to, on plain numbers (no
Django here), so that the evaluation puts a data set's weeks to the same tests.

Every test gives a p-value under "nothing changed"; a week raises an alert for a test only
when its p-value is below ALERT_FALSE_ALARMS_PER_WEEK divided by the number of tests made
that week (Bonferroni), so a quiet week raises an alert with a probability of at most
about that, however many themes and sources it tests. A change must also be large enough to matter
(the MIN_* bounds), not only unlikely.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from math import sqrt
from statistics import median

from scipy.stats import binomtest, norm

# Expected false alarms in a week where nothing changed, over every test of the week.
ALERT_FALSE_ALARMS_PER_WEEK = 0.05
# The weeks before the one tested that say what is usual, and how many must have items.
BASELINE_WEEKS = 6
MIN_BASELINE_WEEKS = 3
# A spike or a rise is at least this many items, and this many times what was usual.
MIN_ITEMS = 10
MIN_RATIO = 1.5
# A jump in a theme's negative share is at least this many points, with this many items
# read for sentiment in the week.
NEGATIVE_MIN_RISE = 0.10
NEGATIVE_MIN_ITEMS = 10
# Median absolute deviations are scaled by this to estimate a standard deviation.
MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class Candidate:
    """One test of one week: what it is about, its p-value and the figures behind it."""

    kind: str
    subject: int  # the theme's or the source's id
    p_value: float
    figures: dict[str, float]


def volume_spike(history: Sequence[int], now: int) -> float | None:
    """The p-value of a week's items (now) against the weeks before (history, oldest first,
    BASELINE_WEEKS at most): a robust z from the median and the median absolute deviation
    (weekly volumes drift more than chance would: a Poisson spread raised false alarms),
    never narrower than Poisson's. None when the week cannot be a spike."""
    usual = [count for count in history if count]
    if len(usual) < MIN_BASELINE_WEEKS or now < MIN_ITEMS:
        return None
    middle = median(usual)
    if now < MIN_RATIO * middle:
        return None
    spread = max(MAD_TO_SD * median(abs(count - middle) for count in usual), sqrt(middle), 1.0)
    return float(norm.sf((now - middle) / spread))


def share_spike(
    history: Sequence[int], history_totals: Sequence[int], now: int, now_total: int
) -> float | None:
    """The p-value of a theme's items in a week (now, of now_total) against its share of
    the weeks before (a binomial test): a theme that grows with the whole feedback is no
    spike of its own. None when the week cannot be a spike."""
    if sum(1 for total in history_totals if total) < MIN_BASELINE_WEEKS or now < MIN_ITEMS:
        return None
    usual_share = (sum(history) + 0.5) / (sum(history_totals) + 1)
    if now < MIN_RATIO * usual_share * now_total:
        return None
    return float(binomtest(now, now_total, min(usual_share, 1.0), alternative="greater").pvalue)


def rise(previous: int, now: int) -> float | None:
    """The p-value of a week's items (now) against the week before's (previous): given
    their sum, each item is in either week with even odds when nothing changed (the
    conditional test of two Poisson counts). None when the week cannot be a rise."""
    if now < MIN_ITEMS or now < MIN_RATIO * previous:
        return None
    return float(binomtest(now, now + previous, 0.5, alternative="greater").pvalue)


def negative_jump(
    negative_before: int, analysed_before: int, negative_now: int, analysed_now: int
) -> float | None:
    """The p-value of a theme's negative share in a week against the weeks before (a
    one-sided two-proportion z-test). None when it rose by less than NEGATIVE_MIN_RISE or
    either side is too small to tell."""
    if min(analysed_before, analysed_now) < NEGATIVE_MIN_ITEMS:
        return None
    before, now = negative_before / analysed_before, negative_now / analysed_now
    if now - before < NEGATIVE_MIN_RISE:
        return None
    pooled = (negative_before + negative_now) / (analysed_before + analysed_now)
    spread = sqrt(pooled * (1 - pooled) * (1 / analysed_before + 1 / analysed_now))
    return float(norm.sf((now - before) / spread)) if spread else 0.0


def raised(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates (every test of one week that gave a p-value: a change too small to
    matter gives none, and cannot be a false alarm) whose p-value passes the week's bound,
    most significant first."""
    bound = ALERT_FALSE_ALARMS_PER_WEEK / max(len(candidates), 1)
    found = [candidate for candidate in candidates if candidate.p_value < bound]
    return sorted(found, key=lambda candidate: candidate.p_value)


@dataclass(frozen=True)
class WeekFigures:
    """What one week is tested on: per source, project and theme, a list of counts a week,
    the BASELINE_WEEKS before the week oldest first and the week itself last."""

    source_items: dict[int, list[int]]
    project_items: dict[int, list[int]]
    theme_items: dict[int, list[int]]
    theme_project: dict[int, int]
    # Of each theme's items a week, those read for sentiment toward it, and the negative.
    theme_analysed: dict[int, list[int]]
    theme_negative: dict[int, list[int]]


def find_in_week(figures: WeekFigures) -> list[Candidate]:
    """The week's alerts: every test made, those that pass the week's bound (raised), and
    one per theme for its volume (a spike against the usual share, else a rise on the week
    before) beside any jump of its negative share."""
    candidates = [
        Candidate("volume_spike", source, p, {"items": counts[-1], "usual": median(counts[:-1])})
        for source, counts in figures.source_items.items()
        if (p := volume_spike(counts[:-1], counts[-1])) is not None
    ]
    for theme, counts in figures.theme_items.items():
        candidates += _theme_candidates(theme, counts, figures)
    found, seen = [], set()
    for candidate in raised(candidates):
        if candidate.kind in VOLUME_KINDS and candidate.subject in seen:
            continue  # a spike and a rise of one theme: the more significant says it
        if candidate.kind in VOLUME_KINDS:
            seen.add(candidate.subject)
        found.append(candidate)
    return found


# A theme's volume changes: one alert a week says the strongest.
VOLUME_KINDS = ("theme_spike", "rising")


def _theme_candidates(theme: int, counts: list[int], figures: WeekFigures) -> list[Candidate]:
    totals = figures.project_items[figures.theme_project[theme]]
    now, previous = counts[-1], counts[-2] if len(counts) > 1 else 0
    analysed, negative = figures.theme_analysed[theme], figures.theme_negative[theme]
    tests: dict[str, tuple[float | None, dict[str, float]]] = {
        "theme_spike": (
            share_spike(counts[:-1], totals[:-1], now, totals[-1]),
            {"items": now, "week_items": totals[-1], "usual_share": _share(counts, totals)},
        ),
        # A week before with no feedback at all (before the first) says nothing of a rise.
        "rising": (
            rise(previous, now) if len(totals) > 1 and totals[-2] else None,
            {"items": now, "previous": previous},
        ),
        "negative_jump": (
            negative_jump(sum(negative[:-1]), sum(analysed[:-1]), negative[-1], analysed[-1]),
            {
                "negative_share": negative[-1] / analysed[-1] if analysed[-1] else 0.0,
                "usual_negative_share": _share(negative, analysed),
                "analysed": analysed[-1],
            },
        ),
    }
    return [
        Candidate(kind, theme, p_value, numbers)
        for kind, (p_value, numbers) in tests.items()
        if p_value is not None
    ]


def _share(counts: list[int], totals: list[int]) -> float:
    """The share of the weeks before the last (counts of totals)."""
    whole = sum(totals[:-1])
    return sum(counts[:-1]) / whole if whole else 0.0
