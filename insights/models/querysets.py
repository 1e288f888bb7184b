"""Query conditions and querysets that pages, reports and stages share. Imports no model
module: the models import it."""

from typing import Any, Self

from django.db import models


def sentiment_label_is(label: str, path: str = "sentiment") -> models.Q:
    """Return the condition "this sentiment row's label is label" for a query: a person's
    correction if there is one, else the prediction (ItemSentiment.label, in SQL). path
    leads from the queried model to the ItemSentiment row."""
    return models.Q(**{f"{path}__effective_label": label})


class ThemeQuerySet(models.QuerySet[Any]):
    """Theme.objects (insights.models.analysis.Theme)."""

    def live(self, embedding_model: str | None = None) -> Self:
        """Return the live themes (Theme.is_live): those a re-cluster may continue, new items
        may join and pages list; only those of embedding_model when it is given."""
        live = self.filter(status__in=self.model.LIVE_STATUSES, merged_into__isnull=True)
        return live if embedding_model is None else live.filter(embedding_model=embedding_model)
