"""Feedback in units: long feedback is analysed sentence by sentence, short feedback whole.

A long review covers the seat, the staff, the food and a lost bag; read as one text its
opinions average out (a one-star complaint among neutral facts reads neutral). So text
longer than a post (SPLIT_ABOVE_CHARS) is split into its sentences (syntok's rule-based
segmenter), and a sentence too short to carry an opinion of its own ("Ok.", "Why?") joins
the one before it. Units are spans of the item's own text, so a unit can be quoted and
linked back to where it stands.
"""

from dataclasses import dataclass

from syntok import segmenter

# Up to the length of a social post, feedback is one unit: a sentence or two about one thing.
SPLIT_ABOVE_CHARS = 280
# A sentence shorter than this joins the unit before it (or, first, the one after it).
MIN_UNIT_CHARS = 20
# Each unit costs a language-model call: a longer text (an e-mail thread, a pasted log) has
# its neighbouring sentences joined into at most this many units of about equal length.
MAX_UNITS = 12


@dataclass(frozen=True)
class Unit:
    start: int
    end: int

    def of(self, text: str) -> str:
        return text[self.start : self.end]


def text_units(text: str) -> list[Unit]:
    """The units of a feedback text, in order: one for a short text, else its sentences
    (MIN_UNIT_CHARS apart). A blank text has none."""
    stripped = text.strip()
    if not stripped:
        return []
    if len(stripped) <= SPLIT_ABOVE_CHARS:
        start = len(text) - len(text.lstrip())
        return [Unit(start, start + len(stripped))]
    return _at_most(_joined_short(_sentences(text)), MAX_UNITS)


def _sentences(text: str) -> list[Unit]:
    return [
        Unit(sentence[0].offset, sentence[-1].offset + len(sentence[-1].value))
        for paragraph in segmenter.analyze(text)
        for sentence in paragraph
        if sentence
    ]


def _joined_short(sentences: list[Unit]) -> list[Unit]:
    units: list[Unit] = []
    for sentence in sentences:
        if units and (sentence.end - sentence.start < MIN_UNIT_CHARS or _short(units[-1])):
            units[-1] = Unit(units[-1].start, sentence.end)
        else:
            units.append(sentence)
    return units


def _short(unit: Unit) -> bool:
    return unit.end - unit.start < MIN_UNIT_CHARS


def _at_most(units: list[Unit], count: int) -> list[Unit]:
    """Join neighbouring units into at most count of about equal length: each goes to the
    count-th of the text its middle falls in."""
    if len(units) <= count:
        return units
    begin, length = units[0].start, units[-1].end - units[0].start
    groups: dict[int, list[Unit]] = {}
    for unit in units:
        middle = (unit.start + unit.end) / 2 - begin
        groups.setdefault(min(count - 1, int(middle / length * count)), []).append(unit)
    return [Unit(group[0].start, group[-1].end) for group in groups.values()]
