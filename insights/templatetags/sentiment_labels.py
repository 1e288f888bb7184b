"""The sentiment labels' colours for templates, from the one registry
(insights.models.sentiment_labels): pages and the report document write no colour of their own."""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from insights.models.sentiment_labels import LABELS_BY_VALUE, SENTIMENT_LABELS

register = template.Library()


@register.simple_tag
def sentiment_styles() -> SafeString:
    """Return a <style> element that colours the text of each label's CSS class (its value:
    <span class="negative">)."""
    rules = format_html_join(
        " ", ".{} {{ color: {}; }}", ((label.value, label.colour) for label in SENTIMENT_LABELS)
    )
    return format_html("<style>{}</style>", rules)


@register.simple_tag
def sentiment_colour(value: str) -> str:
    """Return the colour of the label with this value ("negative", "unscored", ...)."""
    return LABELS_BY_VALUE[value].colour
