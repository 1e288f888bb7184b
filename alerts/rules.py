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
from datetime import date, timedelta
from math import sqrt
from statistics import median

from scipy.stats import binomtest, norm

WEEK = timedelta(weeks=1)
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
# The themes a volume spike names as what it is made of.
DRIVERS = 3


def monday_of(day: date) -> date:
    """The Monday of the day's week (weeks are Monday to Sunday, as the charts')."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Candidate:
    """One test of one week: what it is about, its p-value and the figures behind it."""

    kind: str
    subject: int  # the theme's or the source's id
    p_value: float
    figures: dict[str, float]
    # A volume spike's: the themes whose items rose the most over their usual count.
    drivers: tuple[int, ...] = ()


def volume_spike(history: Sequence[int], now: int) -> float | None:
    """The p-value of a week's items (now) against the weeks before (history, oldest first,
    BASELINE_WEEKS at most), by a quasi-Poisson z: weekly volumes drift more than chance
    would, so the spread is Poisson's times the dispersion the weeks before show (never
    less than Poisson's). None when the week cannot be a spike."""
    usual = [count for count in history if count]
    if len(usual) < MIN_BASELINE_WEEKS or now < MIN_ITEMS:
        return None
    mean = sum(usual) / len(usual)
    if now < MIN_RATIO * mean:
        return None
    variance = sum((count - mean) ** 2 for count in usual) / (len(usual) - 1)
    dispersion = max(1.0, variance / mean)
    return float(norm.sf((now - mean) / sqrt(dispersion * mean)))


def share_spike(
    history: Sequence[int], history_totals: Sequence[int], now: int, now_total: int
) -> float | None:
    """The p-value of a theme's items in a week (now, of now_total) against its usual share
    of the weeks before (the median week's), by a quasi-binomial z: a theme that grows with
    the whole feedback is no spike of its own, and the spread is the binomial's times the
    dispersion of the theme's share over the weeks before (never less). None when the week
    cannot be a spike."""
    weeks = [(count, total) for count, total in zip(history, history_totals, strict=True) if total]
    if len(weeks) < MIN_BASELINE_WEEKS or now < MIN_ITEMS:
        return None
    # The median week's share: a spike among the weeks before does not raise it.
    usual = min(max(_median_share(history, history_totals), 0.5 / now_total), 0.999)
    expected = usual * now_total
    if now < MIN_RATIO * expected:
        return None
    pearson = sum(
        (count - total * usual) ** 2 / (total * usual * (1 - usual)) for count, total in weeks
    )
    dispersion = max(1.0, pearson / (len(weeks) - 1))
    return float(norm.sf((now - expected) / sqrt(dispersion * expected * (1 - usual))))


def rise(previous: int, now: int, previous_total: int, now_total: int) -> float | None:
    """The p-value of a theme's items in a week (now, of now_total) against the week
    before's (previous, of previous_total): given their sum, each item falls in either week
    as the weeks' feedback does when the theme's share did not change (the conditional test
    of two Poisson rates): a theme that grows with all feedback is no rise. None when the
    week cannot be a rise."""
    if not previous_total or now < MIN_ITEMS:
        return None
    if now * previous_total < MIN_RATIO * previous * now_total:
        return None
    in_this_week = now_total / (now_total + previous_total)
    return float(binomtest(now, now + previous, in_this_week, alternative="greater").pvalue)


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
    source_project: dict[int, int]
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
        Candidate(
            "volume_spike",
            source,
            p,
            {"items": counts[-1], "usual": _mean_of_weeks(counts)},
            _drivers(figures, figures.source_project[source]),
        )
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
        # A rise back to the usual share after a low week is no news: a rise must also
        # stand above the median week's share.
        "rising": (
            rise(previous, now, totals[-2] if len(totals) > 1 else 0, totals[-1])
            if now >= MIN_RATIO * _median_share(counts[:-1], totals[:-1]) * totals[-1]
            else None,
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


def _drivers(figures: WeekFigures, project: int) -> tuple[int, ...]:
    """The themes of the project (DRIVERS at most) whose items rose the most over their
    usual count (the mean of the weeks before), most first: what a volume spike is made of."""
    rises = {
        theme: counts[-1] - _mean_of_weeks(counts)
        for theme, counts in figures.theme_items.items()
        if figures.theme_project[theme] == project
    }
    rising = sorted((theme for theme, rise in rises.items() if rise > 0), key=lambda t: -rises[t])
    return tuple(rising[:DRIVERS])


def _median_share(counts: Sequence[int], totals: Sequence[int]) -> float:
    """The median share (counts of totals) of the weeks that had feedback (0: none had)."""
    shares = [count / total for count, total in zip(counts, totals, strict=True) if total]
    return median(shares) if shares else 0.0


def _mean_of_weeks(counts: list[int]) -> float:
    """The mean of the weeks before the last that had items (as volume_spike's)."""
    usual = [count for count in counts[:-1] if count]
    return sum(usual) / len(usual) if usual else 0.0


def _share(counts: list[int], totals: list[int]) -> float:
    """The share of the weeks before the last (counts of totals)."""
    whole = sum(totals[:-1])
    return sum(counts[:-1]) / whole if whole else 0.0
