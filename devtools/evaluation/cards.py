"""Pain-point cards on the negative airline tweets, built as the product builds them
(insights.pipeline.describing.cards.build_card on the themes of discover_themes, named by
name_theme), then checked from the data: is a card more than the extractive fallback, does
every facet phrase appear in the items it cites, does every figure on it recount to the same
value, and do facets follow the annotated negativereason within a theme?
"""

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np

from devtools.evaluation.names import name_themes
from devtools.evaluation.report import Row, Section
from insights.models import NameSource
from insights.pipeline.describing.cards import (
    RECENT_DAYS,
    CardItem,
    FieldBaseline,
    build_card,
    percent,
)
from insights.pipeline.themes.clustering import discover_themes
from insights.wording import says_phrase
from llm.interfaces import DescribingModel, TextEmbedder

Progress = Callable[[int, int], None]
COLUMNS = ("measure", "value")
TWEET_TIME = "%m/%d/%Y %H:%M"
NUMBER = re.compile(r"\d+")


def tweet_items(
    texts: Sequence[str], airlines: Sequence[str], created: Sequence[str]
) -> list[CardItem]:
    """The tweets as card items: no author (each tweet its own customer), the airline as a
    metadata segment, the creation time parsed."""
    items = []
    for index, (text, airline, when) in enumerate(zip(texts, airlines, created, strict=True)):
        stamp = datetime.strptime(when, TWEET_TIME) if when else None
        segments = {"metadata:airline": airline} if airline else {}
        items.append(CardItem(index, text, "", stamp, segments))
    return items


def build_cards(
    items: Sequence[CardItem],
    vectors: np.ndarray,
    models: tuple[DescribingModel, TextEmbedder],
    on_progress: Progress | None,
) -> tuple[list[dict[str, Any]], list[list[int]], list[str], float]:
    """Return the card, members (nearest first) and name source of every theme of
    discover_themes (UMAP seed 0), and the seconds per theme described."""
    texts = [item.text for item in items]
    clustering = discover_themes(vectors, seed=0)
    baseline = FieldBaseline.of(item.segments for item in items)
    dates = [item.created_at.date() for item in items if item.created_at]
    as_of = max(dates) if dates else None
    began = time.perf_counter()
    named = name_themes(texts, vectors, clustering, models, on_progress)
    cards = [
        build_card([items[i] for i in rows], named.phrases[p], named.names[p], baseline, as_of)
        for p, rows in named.members.items()
    ]
    seconds = (time.perf_counter() - began) / max(len(cards), 1)
    return cards, list(named.members.values()), list(named.sources.values()), seconds


def recount_mismatches(
    card: dict[str, Any], items: Sequence[CardItem], all_items: Sequence[CardItem]
) -> list[str]:
    """Recount every figure of a card from the items (no author: one customer per item)
    without the card's code; return what differs."""
    problems = []
    if card["customers"] != len(items):
        problems.append("customers")
    for facet in card["facets"]:
        writers = [item for item in items if says_phrase(item.text, facet["phrase"])]
        if facet["customers"] != len(writers) or facet["items"] != len(writers):
            problems.append(f"facet {facet['phrase']!r} count")
        if facet["share"] != round(len(writers) / len(items), 3):
            problems.append(f"facet {facet['phrase']!r} share")
    if card["as_of"]:
        end = date.fromisoformat(card["as_of"])
        days = [item.created_at.date() for item in items if item.created_at]
        recent = sum(0 <= (end - day).days < RECENT_DAYS for day in days)
        previous = sum(RECENT_DAYS <= (end - day).days < 2 * RECENT_DAYS for day in days)
        if (recent, previous) != (card["recent"], card["previous"]):
            problems.append("recent/previous")
    for found in card["concentrations"]:
        name, value = found["field"], found["value"]
        with_field = [item for item in items if name in item.segments]
        count = sum(item.segments[name] == value for item in with_field)
        overall = [item.segments[name] for item in all_items if name in item.segments]
        share, base = count / len(with_field), overall.count(value) / len(overall)
        if (count, len(with_field)) != (found["items"], found["of"]) or (
            round(share, 3),
            round(base, 3),
        ) != (found["share"], found["baseline"]):
            problems.append(f"concentration {value}")
    shown = _card_numbers(card)
    for sentence in card["sentences"]:
        for number in NUMBER.findall(sentence["text"]):
            if int(number) not in shown:
                problems.append(f"sentence number {number}")
    return problems


def _card_numbers(card: dict[str, Any]) -> set[int]:
    numbers = {card["customers"], card["recent"], card["previous"], RECENT_DAYS}
    for facet in card["facets"]:
        numbers |= {facet["customers"], int(percent(facet["share"]).strip("<%"))}
    for found in card["concentrations"]:
        numbers |= {int(percent(found[key]).strip("<%")) for key in ("share", "baseline")}
    if card["as_of"]:
        end = date.fromisoformat(card["as_of"])
        numbers |= {end.day, end.year}
    return numbers


def facet_purity(
    cards: Sequence[dict[str, Any]],
    members: Sequence[list[int]],
    items: Sequence[CardItem],
    reasons: Sequence[str],
) -> tuple[float | None, float | None]:
    """Return how often a facet's items share its majority negativereason (weighted by
    items), and the same for whole themes: facets that split a theme well are purer."""
    facet_hits = facet_total = theme_hits = theme_total = 0
    for card, rows in zip(cards, members, strict=True):
        theme_reasons = Counter(reasons[i] for i in rows)
        theme_hits += theme_reasons.most_common(1)[0][1]
        theme_total += len(rows)
        for facet in card.get("facets", []):
            said = [reasons[i] for i in rows if says_phrase(items[i].text, facet["phrase"])]
            if said:
                facet_hits += Counter(said).most_common(1)[0][1]
                facet_total += len(said)
    return (
        facet_hits / facet_total if facet_total else None,
        theme_hits / theme_total if theme_total else None,
    )


def evaluate_cards(
    items: Sequence[CardItem],
    reasons: Sequence[str],
    vectors: np.ndarray,
    models: tuple[DescribingModel, TextEmbedder],
    on_progress: Progress | None = None,
) -> Section:
    """Return the cards section for the negative tweets given as card items."""
    cards, members, sources, seconds = build_cards(items, vectors, models, on_progress)
    with_card = [card for card in cards if card.get("customers")]
    not_fallback = [card for card in with_card if card["facets"]]
    facets = [(card, facet) for card in not_fallback for facet in card["facets"]]
    grounded = sum(
        sum(says_phrase(items[pk].text, facet["phrase"]) for pk in facet["item_ids"]) >= 2
        for _, facet in facets
    )
    mismatches = [
        problem
        for card, rows in zip(cards, members, strict=True)
        if card.get("customers")
        for problem in recount_mismatches(card, [items[i] for i in rows], items)
    ]
    facet_pure, theme_pure = facet_purity(cards, members, items, reasons)
    rows: list[Row] = [
        {"measure": "themes (discover_themes, seed 0)", "value": len(cards)},
        {
            "measure": "share with a card, not the fallback",
            "value": _share(len(not_fallback), len(with_card)),
        },
        {"measure": "facets per card, mean", "value": _share(len(facets), len(not_fallback))},
        {"measure": "facet phrases in >= 2 cited items", "value": _share(grounded, len(facets))},
        {"measure": "figures that recount differently", "value": len(mismatches)},
        {"measure": "facet purity vs negativereason", "value": facet_pure},
        {"measure": "theme purity vs negativereason", "value": theme_pure},
        {
            "measure": "cards with a concentration",
            "value": sum(bool(c["concentrations"]) for c in not_fallback),
        },
        {
            "measure": "fallback names",
            "value": _share(sum(s != NameSource.CHOSEN for s in sources), len(sources)),
        },
        {"measure": "seconds per theme (name + card)", "value": seconds},
    ]
    examples = [
        f"{card['sentences'][0]['text']}"
        for card in sorted(not_fallback, key=lambda c: -c["customers"])[:3]
    ]
    notes = [
        f"{len(items):,} negative tweets (the sentiment test sample). Targets: cards not the "
        "fallback >= 0.90; facet phrases in >= 2 cited items 1.00; no figure recounts "
        "differently; fallback names <= 0.10.",
        "Purity: of the tweets a facet's phrase is written by, the share with the facet's most "
        "common negativereason (weighted by tweets); beside it the same for whole themes.",
        "Concentrations test the airline as a metadata field against all the negative "
        "tweets given.",
        *(f"Example: {example}" for example in examples),
    ]
    if mismatches:
        notes.append("Recount differences: " + ", ".join(mismatches[:5]))
    return Section("cards", "Pain-point cards on negative airline tweets", COLUMNS, rows, notes)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
