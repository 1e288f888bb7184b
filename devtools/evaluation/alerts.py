"""Alerts (issue 22) on the Comcast complaints of April to June 2015: themes discovered as
the product discovers them, then each week's counts put to the product's own tests
(alerts.rules.find_in_week) against the weeks before it.

The complaints spiked in the week of 22 June 2015 (ISO week 26: 657 complaints against 78
to 199 a week before), data caps among the most common subjects. That week must raise a
volume spike that names a data-cap theme among what its rise is made of (or alerts of that
theme of its own); every other week tested is quiet as far as the data set says, so each
alert raised there counts as a false alarm.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import date

import numpy as np

from alerts.rules import (
    BASELINE_WEEKS,
    MIN_BASELINE_WEEKS,
    WEEK,
    Candidate,
    WeekFigures,
    find_in_week,
    monday_of,
)
from devtools.evaluation.report import Section
from insights.pipeline.themes.clustering import NO_THEME, discover_themes

SPIKE_WEEK = date(2015, 6, 22)
# A theme is the spike's when this share of its complaints hold the spike's word.
CAP_SHARE = 0.5
COLUMNS = ("week", "complaints", "alerts")


def evaluate_alerts(
    texts: Sequence[str],
    days: Sequence[date],
    vectors: np.ndarray,
    spike_week: date = SPIKE_WEEK,
    spike_word: str = "cap",
) -> Section:
    """texts: the complaints, filed on days; the week of Monday spike_week is the spike,
    and its themes are those where CAP_SHARE of the complaints hold spike_word."""
    labels = discover_themes(vectors, seed=0).labels
    mondays = [monday_of(day) for day in days]
    weeks = [min(mondays) + n * WEEK for n in range((max(mondays) - min(mondays)) // WEEK + 1)]
    totals = Counter(mondays)
    by_theme = Counter(zip(labels.tolist(), mondays, strict=True))
    themes = sorted(set(labels.tolist()) - {NO_THEME})
    names = {theme: _name(texts, labels, theme) for theme in themes}
    capped = {theme for theme in themes if _says(spike_word, texts, labels, theme)}
    rows, false_alarms, spike_found, quiet = [], 0, False, 0
    for at, week in enumerate(weeks):
        if at < MIN_BASELINE_WEEKS:
            continue  # too few weeks before it to know what is usual
        window = weeks[max(0, at - BASELINE_WEEKS) : at + 1]
        found = find_in_week(_figures(window, totals, by_theme, themes))
        said = [_said(c, names) for c in found]
        rows.append(
            {"week": week.isoformat(), "complaints": totals[week], "alerts": "; ".join(said)}
        )
        if week == spike_week:
            kinds = {c.kind for c in found}
            # The week's volume spike, made of the data-cap theme among others (or with
            # an alert of its own).
            named = {
                t for c in found for t in (c.drivers if c.kind == "volume_spike" else [c.subject])
            }
            spike_found = "volume_spike" in kinds and bool(named & capped)
        else:
            quiet += 1
            false_alarms += len(found)
    return Section(
        "alerts",
        f"Alerts: {len(texts):,} Comcast complaints, {len(weeks)} weeks, {len(themes)} themes",
        COLUMNS,
        rows,
        [
            f"Week of {spike_week:%-d %B %Y}: volume spike and a data-cap theme's alert "
            f"{'found' if spike_found else 'NOT found'} (data-cap themes: "
            f"{', '.join(names[t] for t in sorted(capped)) or 'none'}).",
            f"False alarms: {false_alarms} in {quiet} quiet weeks "
            f"({false_alarms / quiet if quiet else 0:.2f} a week).",
            "Themes named by their most common complaint subject. Weeks tested: those with "
            f"at least {MIN_BASELINE_WEEKS} weeks before them; no sentiment here, so no "
            "negative-share test.",
            "Target (issue 22): the spike week found, and the false-alarm rate reported.",
        ],
    )


def _said(candidate: Candidate, names: dict[int, str]) -> str:
    kind = candidate.kind.replace("_", " ")
    if candidate.kind != "volume_spike":
        return f"{kind}: {names[candidate.subject]}"
    drivers = ", ".join(names[theme] for theme in candidate.drivers)
    return f"{kind} (most of the rise: {drivers})" if drivers else kind


def _figures(
    window: list[date],
    totals: Counter[date],
    by_theme: Counter[tuple[int, date]],
    themes: list[int],
) -> WeekFigures:
    week_totals = [totals[week] for week in window]
    counts = {theme: [by_theme[theme, week] for week in window] for theme in themes}
    return WeekFigures(
        source_items={0: week_totals},
        source_project={0: 0},
        project_items={0: week_totals},
        theme_items=counts,
        theme_project=dict.fromkeys(themes, 0),
        theme_analysed={theme: [0] * len(window) for theme in themes},
        theme_negative={theme: [0] * len(window) for theme in themes},
    )


def _members(texts: Sequence[str], labels: np.ndarray, theme: int) -> list[str]:
    return [texts[int(n)] for n in np.flatnonzero(labels == theme)]


def _name(texts: Sequence[str], labels: np.ndarray, theme: int) -> str:
    subjects = Counter(text.strip().lower() for text in _members(texts, labels, theme))
    return f"“{subjects.most_common(1)[0][0]}”"


def _says(word: str, texts: Sequence[str], labels: np.ndarray, theme: int) -> bool:
    members = _members(texts, labels, theme)
    return sum(word in text.lower() for text in members) >= CAP_SHARE * len(members)
