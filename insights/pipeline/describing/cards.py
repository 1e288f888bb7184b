"""Pain-point cards: what hurts in a theme, as facts computed from its negative items.

A card holds 2-4 facets (phrases of the theme that split its negative feedback, each with
how many customers write it and the quotes that do), how fast the negative feedback grows,
where it concentrates (a source, kind, rating or metadata value that it over-represents by
more than chance explains), and sentences a template writes from those figures. Every
number is counted here and every phrase is one its cited items write (word stems), so a
card is grounded by construction; no language model writes any of it.

build_card is a plain function over CardItem records, so the evaluation builds cards from a
data set as the product does from its database (describe._corpora and _card_items).
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from insights.pipeline.describing.quotes import Quote, first_distinct
from insights.pipeline.themes.keywords import Phrase
from insights.segments import (
    MAX_SEGMENT_VALUES,
    METADATA_PREFIX,
    SegmentShare,
    is_segment_value,
    over_represented,
)
from insights.wording import says_phrase, speaks_to_the_model, stems_of, written_form

# Recorded on each card: cards are built again when this changes.
CARD_VERSION = "card-5"
MAX_FACETS = 4
FACET_QUOTES = 3
# A facet must be written by at least this many distinct texts: one is an anecdote.
MIN_FACET_QUOTES = 2
# A phrase whose items are mostly another facet's says nothing new.
FACET_MAX_OVERLAP = 0.5
RECENT_DAYS = 7
# The values a theme's negative feedback concentrates in, at most (insights.segments).
MAX_CONCENTRATIONS = 2


@dataclass(frozen=True)
class CardItem:
    """One negative item of a theme, as a card counts it."""

    id: int
    text: str
    author: str  # empty when the source gives none: the item counts as its own customer
    created_at: datetime | None
    # Segment values: "source", "kind", "rating" and scalar metadata, as strings.
    segments: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldBaseline:
    """How all feedback splits over each segment field: counts per value, and how many
    items have the field at all."""

    values: dict[str, Counter[str]]
    totals: dict[str, int]

    @classmethod
    def of(cls, segment_rows: Iterable[dict[str, str]]) -> "FieldBaseline":
        values: dict[str, Counter[str]] = {}
        for segments in segment_rows:
            for name, value in segments.items():
                values.setdefault(name, Counter())[value] += 1
        segment_fields = {
            name: counts for name, counts in values.items() if len(counts) <= MAX_SEGMENT_VALUES
        }
        return cls(segment_fields, {name: sum(c.values()) for name, c in segment_fields.items()})


def customers(items: Iterable[CardItem]) -> int:
    """Distinct customers: one per author handle, and one per item without a handle."""
    authors: set[str] = set()
    anonymous = 0
    for item in items:
        if item.author:
            authors.add(item.author.casefold())
        else:
            anonymous += 1
    return len(authors) + anonymous


def segment_values(source: str, kind: str, rating: str, metadata: dict[str, Any]) -> dict[str, str]:
    """An item's segment values as strings: its source, kind, rating (written on its scale,
    "1★" or "8/10", so that scales are not mixed up; "" for none) and every scalar metadata
    field (app version, plan, country...)."""
    values = {"source": source, "kind": kind}
    if rating:
        values["rating"] = rating
    for key, value in metadata.items():
        if is_segment_value(value):
            values[f"{METADATA_PREFIX}{key}"] = str(value).strip()[:80]
    return values


def build_card(
    items: Sequence[CardItem],
    phrases: Sequence[Phrase],
    name: str,
    baseline: FieldBaseline,
    as_of: date | None,
) -> dict[str, Any]:
    """Return the card of a theme from its negative items (nearest its centre first), its
    phrases (most distinctive first), its name, how all feedback splits, and the date the
    data reaches. Without negative items the card counts no customers; without a facet it
    says why, and the theme's page falls back to quotes."""
    usable = [item for item in items if not speaks_to_the_model(item.text)]
    if not usable:
        return {"version": CARD_VERSION, "customers": 0}
    total = customers(usable)
    facets = choose_facets(usable, phrases, name, total)
    recent, previous = _weekly_counts(usable, as_of)
    card: dict[str, Any] = {
        "version": CARD_VERSION,
        "customers": total,
        "items": len(usable),
        "as_of": as_of.isoformat() if as_of else "",
        "recent": recent,
        "previous": previous,
        "facets": facets,
        "concentrations": concentrations(usable, baseline),
    }
    if not facets:
        card["fallback"] = "No phrase of this theme is written by two or more negative items."
    card["sentences"] = [{"text": text, "path": "template"} for text in card_sentences(card)]
    return card


def choose_facets(
    items: Sequence[CardItem], phrases: Sequence[Phrase], name: str, total: int
) -> list[dict[str, Any]]:
    """Return up to MAX_FACETS facets: greedily, the phrase that the most negative items not
    yet covered write (ties to the more distinctive), skipping the name itself, phrases
    inside or around a chosen one, and phrases whose items are mostly a chosen facet's.
    Phrases of two or more words go first: on the demo, single words that won on coverage
    alone said little ("account", "believe", "worth"); single words fill the places left."""
    name_stems = " ".join(stems_of(name))
    usable = [p for p in phrases if not _overlaps_text(" ".join(stems_of(p.text)), name_stems)]
    chosen: list[tuple[str, list[CardItem]]] = []
    covered: set[int] = set()
    for pool in ([p for p in usable if p.words > 1], [p for p in usable if p.words == 1]):
        writers = {p.text: [item for item in items if says_phrase(item.text, p.text)] for p in pool}
        while len(chosen) < MAX_FACETS:
            best = _next_facet(writers, chosen, covered)
            if best is None:
                break
            chosen.append((best, writers.pop(best)))
            covered |= {item.id for item in chosen[-1][1]}
    return [_facet(phrase, written, total) for phrase, written in chosen]


def _next_facet(
    writers: dict[str, list[CardItem]],
    chosen: list[tuple[str, list[CardItem]]],
    covered: set[int],
) -> str | None:
    best, best_new = None, 0
    for phrase, written in writers.items():  # most distinctive first: ties keep the first
        ids = {item.id for item in written}
        if len(_distinct_quotes(written, MIN_FACET_QUOTES)) < MIN_FACET_QUOTES:
            continue
        if any(_overlaps_text(phrase, other) for other, _ in chosen):
            continue
        if any(
            len(ids & {item.id for item in other}) > FACET_MAX_OVERLAP * len(ids)
            for _, other in chosen
        ):
            continue
        new = len(ids - covered)
        if new > best_new:
            best, best_new = phrase, new
    return best


def _distinct_quotes(items: Sequence[CardItem], n: int) -> list[Quote]:
    return first_distinct(((item.id, item.text) for item in items), n)


def _overlaps_text(phrase: str, other: str) -> bool:
    return bool(other) and (f" {phrase} " in f" {other} " or f" {other} " in f" {phrase} ")


def _facet(phrase: str, written: list[CardItem], total: int) -> dict[str, Any]:
    quoted = _distinct_quotes(written, FACET_QUOTES)  # nearest the centre first
    count = customers(written)
    return {
        "phrase": written_form(phrase, [item.text for item in written]),
        "customers": count,
        "items": len(written),
        "share": round(count / total, 3) if total else 0.0,
        "item_ids": [quote.item_id for quote in quoted],
        "path": "computed",  # a phrase of the theme, counted in its negative items
    }


def _weekly_counts(items: Sequence[CardItem], as_of: date | None) -> tuple[int, int]:
    """Customers with negative feedback in the RECENT_DAYS up to as_of, and in the
    RECENT_DAYS before those."""
    if as_of is None:
        return 0, 0
    recent_start = as_of - timedelta(days=RECENT_DAYS - 1)
    previous_start = recent_start - timedelta(days=RECENT_DAYS)
    dated = [item for item in items if item.created_at is not None]
    recent = [i for i in dated if recent_start <= _day(i) <= as_of]
    previous = [i for i in dated if previous_start <= _day(i) < recent_start]
    return customers(recent), customers(previous)


def _day(item: CardItem) -> date:
    assert item.created_at is not None
    return item.created_at.date()


def concentrations(items: Sequence[CardItem], baseline: FieldBaseline) -> list[dict[str, Any]]:
    """Return the segment values that the items over-represent by more than chance explains
    (insights.segments.over_represented), most over-represented first."""
    shares = []
    for name, overall in baseline.values.items():
        counts = Counter(item.segments[name] for item in items if name in item.segments)
        of = sum(counts.values())
        shares += [
            SegmentShare(name, value, count, of, overall[value] / baseline.totals[name])
            for value, count in counts.items()
        ]
    return [
        {
            "field": found.field,
            "label": found.label,
            "value": found.value,
            "items": found.items,
            "of": found.of,
            "share": round(found.share, 3),
            "baseline": round(found.baseline, 3),
        }
        for found in over_represented(shares)[:MAX_CONCENTRATIONS]
    ]


def card_sentences(card: dict[str, Any]) -> list[str]:
    """One or two sentences (three with a concentration) from the card's figures."""
    sentences = []
    facets = card["facets"]
    if facets:
        first, *others = facets[:3]
        text = (
            f"{_customers(first['customers'])} ({percent(first['share'])} of this theme's "
            f"negative feedback) say “{first['phrase']}”"
        )
        text += "".join(f"; {o['customers']} say “{o['phrase']}”" for o in others)
        sentences.append(text + ".")
    if card["as_of"] and (card["recent"] or card["previous"]):
        sentences.append(
            f"{_customers(card['recent'], 'complained')} in the {RECENT_DAYS} days to "
            f"{date.fromisoformat(card['as_of']):%-d %b %Y}, against {card['previous']} "
            "the week before."
        )
    if card["concentrations"]:
        parts = [
            f"{c['label']} {c['value']} ({percent(c['share'])} of them, against "
            f"{percent(c['baseline'])} of all feedback)"
            for c in card["concentrations"]
        ]
        sentences.append("Most over-represented: " + "; ".join(parts) + ".")
    return sentences


def card_headline(card: dict[str, Any]) -> str:
    """The card's first sentence where it has facets (what most of its customers say)."""
    return str(card["sentences"][0]["text"]) if card.get("facets") else ""


def _customers(count: int, verb: str = "") -> str:
    noun = "customer" if count == 1 else "customers"
    return f"{count} {noun}" + (f" {verb}" if verb else "")


def percent(share: float) -> str:
    """A share as a card shows it: whole percent, "<1%" for a small share above zero."""
    if 0 < share < 0.005:
        return "<1%"
    return f"{math.floor(share * 100 + 0.5)}%"
