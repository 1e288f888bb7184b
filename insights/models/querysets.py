"""Query conditions and querysets that pages, reports and stages share."""

from django.db import models


def sentiment_label_is(label: str, path: str = "sentiment") -> models.Q:
    """Return the condition "this sentiment row's label is label" for a query: a person's
    correction if there is one, else the prediction (ItemSentiment.label, in SQL). path
    leads from the queried model to the ItemSentiment row."""
    return models.Q(**{f"{path}__effective_label": label})
