"""A rating as people read it on its source's scale ("4★", "8/10"; ingestion.ratings)."""

from django import template

from ingestion.models import FeedbackItem

register = template.Library()


@register.filter
def rating_text(item: FeedbackItem) -> str:
    """The item's rating on its source's scale ("" without a rating)."""
    return "" if item.rating is None else item.source.format_rating(item.rating)
