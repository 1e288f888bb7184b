"""Query conditions and querysets that pages, reports and stages share. Imports no model
module: the models import it."""

from dataclasses import dataclass
from typing import Any, Self

from django.db import models
from django.db.models.functions import Coalesce, NullIf
from django.db.models.lookups import Exact


def sentiment_label_is(label: str, path: str = "sentiment") -> models.Q:
    """Return the condition "this sentiment row's label is label" for a query: a person's
    correction if there is one, else the prediction (ItemSentiment.label, in SQL). path
    leads from the queried model to the ItemSentiment row."""
    return models.Q(**{f"{path}__effective_label": label})


def theme_sentiment_label_is(
    label: str, assignment: str = "theme_assignments__", path: str = "sentiment"
) -> models.Q:
    """Return the condition "the item's sentiment toward the theme is label": the sentiment
    its theme assignment read in the unit it quotes, else the item's own label (as
    sentiment_label_is). assignment is the prefix leading from the queried model to the
    ThemeAssignment row ("" when the query is over assignments), path leads to the item's
    ItemSentiment row."""
    toward_theme = Coalesce(
        NullIf(models.F(f"{assignment}sentiment"), models.Value("")),
        models.F(f"{path}__effective_label"),
    )
    return models.Q(Exact(toward_theme, label))


@dataclass(frozen=True)
class ThemeHierarchy:
    """Which live theme is a sub-theme of which (Theme.parent): themes split from a broad
    theme that was itself split from a broader one sit several levels down."""

    parent_of: dict[int, int]  # each live sub-theme's live parent

    def above(self, theme_id: int) -> list[int]:
        """The theme's parent, that one's parent and so on up, nearest first."""
        chain: list[int] = []
        while (parent := self.parent_of.get(chain[-1] if chain else theme_id)) is not None:
            if parent in chain or parent == theme_id:
                break  # never loop, whatever the rows say
            chain.append(parent)
        return chain

    def depth(self, theme_id: int) -> int:
        """How many broad themes the theme sits under: 0 at the top."""
        return len(self.above(theme_id))


class ThemeQuerySet(models.QuerySet[Any]):
    """Theme.objects (insights.models.analysis.Theme)."""

    def live(self, embedding_model: str | None = None) -> Self:
        """Return the live themes (Theme.is_live): those a re-cluster may continue, new items
        may join and pages list; only those of embedding_model when it is given."""
        live = self.filter(status__in=self.model.LIVE_STATUSES, merged_into__isnull=True)
        return live if embedding_model is None else live.filter(embedding_model=embedding_model)

    def leaves(self, embedding_model: str | None = None) -> Self:
        """Return the live themes without live sub-themes: the most specific, which lists
        rank side by side (a parent holds its children's items, so ranking both would count
        them twice)."""
        return self.live(embedding_model).exclude(self._has_live_children())

    def parents(self, embedding_model: str | None = None) -> Self:
        """Return the live themes with live sub-themes (Theme.parent)."""
        return self.live(embedding_model).filter(self._has_live_children())

    def hierarchy(self) -> ThemeHierarchy:
        """Return which of these live themes is a sub-theme of which live theme."""
        live = self.model.objects.live()
        rows = self.live().filter(parent__in=live).values_list("pk", "parent_id")
        return ThemeHierarchy(dict(rows))

    def _has_live_children(self) -> models.Exists:
        children = self.model.objects.live().filter(parent=models.OuterRef("pk"))
        return models.Exists(children)
