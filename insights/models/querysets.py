"""Query conditions and querysets that pages, reports and stages share. Imports no model
module: the models import it."""

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

    def _has_live_children(self) -> models.Exists:
        children = self.model.objects.live().filter(parent=models.OuterRef("pk"))
        return models.Exists(children)
