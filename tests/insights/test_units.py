"""Feedback in units: short feedback whole, long feedback sentence by sentence."""

import itertools

from insights.pipeline.units import MAX_UNITS, SPLIT_ABOVE_CHARS, Unit, text_units

REVIEW = (
    "I flew from London to New York in seat 12A last Tuesday, on the morning flight. "
    "The seat was comfortable and the crew were lovely. Ok. "
    "However my bag was lost at JFK and nobody at the desk could tell me where it was! "
    "Three days later I still have no bag, no answer and no refund. Never again."
)


def test_short_feedback_is_one_unit_without_its_surrounding_space() -> None:
    text = "  Love the app, but sync fails every morning.  "
    assert text_units(text) == [Unit(2, len(text) - 2)]
    assert text_units("   ") == []


def test_long_feedback_is_split_into_sentences_and_short_ones_join_the_one_before() -> None:
    assert len(REVIEW) > SPLIT_ABOVE_CHARS
    assert [unit.of(REVIEW) for unit in text_units(REVIEW)] == [
        "I flew from London to New York in seat 12A last Tuesday, on the morning flight.",
        "The seat was comfortable and the crew were lovely. Ok.",
        "However my bag was lost at JFK and nobody at the desk could tell me where it was!",
        "Three days later I still have no bag, no answer and no refund. Never again.",
    ]


def test_very_long_feedback_has_at_most_max_units_covering_all_of_it_in_order() -> None:
    text = " ".join(f"Sentence number {n} says something about the product." for n in range(100))
    units = text_units(text)
    assert len(units) == MAX_UNITS
    assert units[0].start == 0 and units[-1].end == len(text)
    assert all(a.end < b.start for a, b in itertools.pairwise(units))
    lengths = [unit.end - unit.start for unit in units]
    assert max(lengths) < 2 * min(lengths)  # about equal
