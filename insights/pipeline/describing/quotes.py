"""Choosing a theme's quotes: the one place that decides which of a theme's items speak for
it, for its description, its page, reports and copy.

A theme's quotes are the items a caller prefers (what its summary cites, its representative
items), in that order, then its other items nearest its centre; one per distinct text. An
item that speaks to a language model rather than about the product is never a quote.
"""

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from typing import NamedTuple

from django.db.models import QuerySet

from ingestion.models import FeedbackItem
from insights.models import (
    Sentiment,
    Theme,
    ThemeAssignment,
    quoted_part,
    theme_sentiment_label_is,
)
from insights.pipeline.embedding import item_vectors
from insights.wording import comparable, speaks_to_the_model

# Items read a query when looking for the nearest: enough for a few distinct texts even
# where customers repeat one ("Great app!"); further pages are read only when they do.
QUOTE_CANDIDATES = 30


class Quote(NamedTuple):
    """An item's text as a theme's quote: the whole text, or the part of a long item that
    speaks to the theme."""

    item_id: int
    text: str


def theme_quotes(
    theme: Theme,
    n: int,
    *,
    preferred: Sequence[int] = (),
    items: QuerySet[FeedbackItem] | None = None,
    negative_only: bool = False,
) -> list[Quote]:
    """Return up to n quotes of the theme, one per distinct text and none that speaks to a
    language model: the preferred items that are still in it, in their order, then its other
    items nearest its centre first.

    items: only these of the theme's items (a report's period, say). negative_only: the
    nearest items are negative ones (the preferred are taken as they are)."""
    assignments = ThemeAssignment.objects.filter(theme=theme)
    if items is not None:
        assignments = assignments.filter(item__in=items)
    texts = {
        item_id: quoted_part(text, start, end)
        for item_id, text, start, end in assignments.filter(
            item_id__in=list(preferred)
        ).values_list("item_id", "item__text", "unit_start", "unit_end")
    }
    chosen = [Quote(pk, texts[pk]) for pk in dict.fromkeys(preferred) if pk in texts]
    if negative_only:
        assignments = assignments.filter(
            theme_sentiment_label_is(Sentiment.NEGATIVE, "", "item__sentiment")
        )
    candidates = chain(chosen, _nearest(theme, assignments))
    return first_distinct((q for q in candidates if not speaks_to_the_model(q.text)), n)


def cited_item_ids(theme: Theme) -> list[int]:
    """Return the items the theme's pain-point card and summary cite, in the order they
    cite them (the card's facets first)."""
    facets = (pk for facet in theme.card.get("facets", []) for pk in facet["item_ids"])
    summary = (pk for sentence in theme.pain_summary for pk in sentence.get("item_ids", []))
    return list(dict.fromkeys(chain(facets, summary)))


def first_distinct(quotes: Iterable[Quote | tuple[int, str]], n: int) -> list[Quote]:
    """Return the first n quotes whose texts differ (compared as comparable() words)."""
    seen: set[str] = set()
    kept: list[Quote] = []
    if n <= 0:
        return kept
    for item_id, text in quotes:
        key = comparable(text)
        if key and key not in seen:
            seen.add(key)
            kept.append(Quote(item_id, text))
        if len(kept) == n:
            break  # before the next quote: a lazy source reads no further
    return kept


def _nearest(theme: Theme, assignments: QuerySet[ThemeAssignment]) -> Iterator[Quote]:
    """Yield the assignments' items nearest the theme's centre first (a long item's part
    that put it in the theme), a page of QUOTE_CANDIDATES at a time (read only when needed).

    Pages follow the similarity stored at assignment; within a page, nearness is the cosine
    to the current centre where an item in the theme whole has an embedding from the
    theme's model (a merge or a moved item leaves a stored similarity to another centre)."""
    ordered = assignments.order_by("-similarity", "item_id")
    start = 0
    while True:
        rows = list(
            ordered.values_list("item_id", "item__text", "unit_start", "unit_end", "similarity")[
                start : start + QUOTE_CANDIDATES
            ]
        )
        nearness = {row[0]: row[-1] for row in rows}
        whole = [row[0] for row in rows if row[2] is None]
        if len(theme.centroid) and whole:
            found = FeedbackItem.objects.filter(pk__in=whole)
            ids, vectors = item_vectors(found, theme.embedding_model)
            if ids:
                nearness.update(zip(ids, (vectors @ theme.centroid_array()).tolist(), strict=True))
        rows.sort(key=lambda row: (-nearness[row[0]], row[0]))
        yield from (Quote(pk, quoted_part(text, begin, end)) for pk, text, begin, end, _ in rows)
        if len(rows) < QUOTE_CANDIDATES:
            return
        start += QUOTE_CANDIDATES
