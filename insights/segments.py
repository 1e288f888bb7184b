"""Segments: the values of a field (source, kind, rating, or a metadata field kept at import
such as app version, plan or country) that split feedback, and the test that says a group
of items (a theme, or a theme's negative feedback) over-represents one by more than chance
explains.

Pain-point cards (insights.pipeline.describing.cards) and theme pages
(insights.dashboards.segments) both ask it, so both say the same of the same numbers.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace

from scipy.stats import binomtest, false_discovery_control

# A field with more distinct values than this is an identifier, a time or free text, not a
# segment: it is left out.
MAX_SEGMENT_VALUES = 30
# A group over-represents a value when the value is at least MIN_LIFT times as common in it
# as in all feedback, in at least MIN_ITEMS of its items, and a one-sided binomial test
# against the value's overall share stays significant at FALSE_DISCOVERY_RATE once
# corrected for every value tested (Benjamini-Hochberg: a page tests dozens of values, and
# one in twenty passes 0.05 by chance).
MIN_LIFT = 1.5
MIN_ITEMS = 3
FALSE_DISCOVERY_RATE = 0.05
METADATA_PREFIX = "metadata:"


def is_segment_value(value: object) -> bool:
    """Whether a metadata value can be a segment's: plain text, a number or true/false, not
    blank (lists and objects are not)."""
    return isinstance(value, str | int | float | bool) and bool(str(value).strip())


@dataclass(frozen=True)
class SegmentShare:
    """How common one value of a field is in a group of items, against all feedback."""

    field: str  # "source", "kind", "rating", or "metadata:" and a metadata field's name
    value: str
    items: int  # the group's items with this value
    of: int  # the group's items with a value of the field
    baseline: float  # the value's share of all feedback with a value of the field
    p_value: float = 1.0  # the binomial test's, once over_represented tested it

    @property
    def label(self) -> str:
        """The field as people call it: a metadata field by its own name."""
        return self.field.removeprefix(METADATA_PREFIX)

    @property
    def share(self) -> float:
        return self.items / self.of if self.of else 0.0

    @property
    def percents(self) -> tuple[float, float]:
        """The share and the baseline in percent, for pages."""
        return 100 * self.share, 100 * self.baseline

    @property
    def lift(self) -> float:
        """How many times the value's usual share the group's share is."""
        return self.share / self.baseline if self.baseline else 0.0

    def describe(self) -> str:
        """E.g. "app_version 4.2.0: 3.1 times the usual share, 57 items" (with the sign)."""
        items = f"{self.items:,} item{'s' * (self.items != 1)}"
        times = f"{self.lift:.1f}\N{MULTIPLICATION SIGN}"
        return f"{self.label} {self.value}: {times} the usual share, {items}"


def over_represented(shares: Iterable[SegmentShare]) -> list[SegmentShare]:
    """The shares of values the group over-represents beyond chance (see MIN_LIFT), with
    their p-values, most over-represented first. Every value with MIN_ITEMS items that is
    not the whole of its field is tested, and counts in the correction."""
    tested = [
        replace(share, p_value=_p_value(share))
        for share in shares
        if share.items >= MIN_ITEMS and 0 < share.baseline < 1
    ]
    if not tested:
        return []
    adjusted = false_discovery_control([share.p_value for share in tested])
    found = [
        share
        for share, q_value in zip(tested, adjusted, strict=True)
        if share.lift >= MIN_LIFT and q_value < FALSE_DISCOVERY_RATE
    ]
    return sorted(found, key=lambda share: (-share.lift, share.field, share.value))


def _p_value(share: SegmentShare) -> float:
    return float(binomtest(share.items, share.of, share.baseline, alternative="greater").pvalue)
