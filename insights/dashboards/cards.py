"""A theme's pain-point card as pages, reports and copy show it: the stored card
(insights.pipeline.describing.cards) with its cited items read back, each quote marked where
it writes its facet's phrase."""

from dataclasses import dataclass

from ingestion.models import FeedbackItem
from insights.models import Theme
from insights.pipeline.describing.cards import percent
from insights.wording import highlighted

QUOTE_CHARS = 300


@dataclass(frozen=True)
class FacetQuote:
    item: FeedbackItem
    parts: list[tuple[str, bool]]  # (text, is the facet's phrase)


@dataclass(frozen=True)
class ShownFacet:
    phrase: str
    customers: int
    share: float
    quotes: list[FacetQuote]

    @property
    def percent(self) -> str:
        return percent(self.share)


@dataclass(frozen=True)
class ShownCard:
    """A card to show: its template sentences, its facets with quotes, how many customers
    it counts, and the fallback's reason."""

    sentences: list[str]
    facets: list[ShownFacet]
    customers: int
    fallback: str


def shown_card(theme: Theme) -> ShownCard | None:
    """Return the theme's card with its quotes read back, or None when it has no negative
    feedback (or was not described yet)."""
    card = theme.card
    if not card.get("customers"):
        return None
    cited = {pk for facet in card["facets"] for pk in facet["item_ids"]}
    found = FeedbackItem.objects.select_related("source").in_bulk(cited)
    facets = [
        ShownFacet(
            phrase=facet["phrase"],
            customers=facet["customers"],
            share=facet["share"],
            quotes=[
                FacetQuote(found[pk], highlighted(found[pk].text, facet["phrase"], QUOTE_CHARS))
                for pk in facet["item_ids"]
                if pk in found
            ],
        )
        for facet in card["facets"]
    ]
    return ShownCard(
        sentences=[sentence["text"] for sentence in card["sentences"]],
        facets=facets,
        customers=card["customers"],
        fallback=card.get("fallback", ""),
    )


CARD_KIND = "card"


def card_lines(theme: Theme) -> tuple[list[str], str]:
    """Return what a report says of the theme's pain points, as lines, and its kind: the
    card's sentences, the model's sentence where one passed the checks, then one line per
    facet (kind CARD_KIND); without a facet, the fallback's quotes (the theme's
    summary_kind)."""
    card = theme.card
    written = [str(part["text"]) for part in theme.pain_summary if part.get("text")]
    if not card.get("facets"):
        return written, theme.summary_kind
    facets = [
        f"“{facet['phrase']}”: {facet['customers']} customers ({percent(facet['share'])})"
        for facet in card["facets"]
    ]
    sentences = [sentence["text"] for sentence in card["sentences"]]
    return [*sentences, *written, *facets], CARD_KIND
