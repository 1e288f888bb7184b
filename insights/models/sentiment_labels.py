"""The sentiment labels: the one place that says which labels there are, what each is called,
its colour and its column in the report's CSV.

Read by the models (Sentiment's choices), the dashboards' counts, both chart modules, the
reports and the templates (the `sentiment_labels` template tags write the page colours), so
that a label or a colour changes here and nowhere else. No Django models: the models import it.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class SentimentLabel:
    # Stored in ItemSentiment, the key of a count row and the CSS class of a page's text.
    value: str
    # For people: choices, report tables, PNG legends.
    name: str
    # A chart's legend entry and the word after a count on a page ("3 negative").
    legend: str
    # Bars in every chart and the label's text on pages; dark enough to read on white.
    colour: str
    # The themes CSV column holding the theme's count of items with the label.
    csv_column: str


NEGATIVE = SentimentLabel("negative", "Negative", "negative", "#c2410c", "negative")
NEUTRAL = SentimentLabel("neutral", "Neutral", "neutral", "#64748b", "neutral")
POSITIVE = SentimentLabel("positive", "Positive", "positive", "#15803d", "positive")
# The labels a model predicts and a person corrects to, in the order every page shows them.
SENTIMENT_LABELS = (NEGATIVE, NEUTRAL, POSITIVE)

# Items with no sentiment yet: shown beside the labels (counted, charted, in the CSV) but
# never stored. Pale, as it is the part of a bar still to come.
NOT_ANALYSED = SentimentLabel(
    "unscored", "Not analysed yet", "not analysed", "#e2e8f0", "not_analysed"
)
# What a count shows, in order: each label, then the items not analysed yet.
SHOWN_LABELS = (*SENTIMENT_LABELS, NOT_ANALYSED)
# The template tags look a label up by the value a page has.
LABELS_BY_VALUE = {label.value: label for label in SHOWN_LABELS}
