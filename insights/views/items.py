"""Feedback items: the filtered list, one item's page with what the analysis said about it
and which model said it, and the corrections people make to an item."""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from feedlens.access import role_required
from ingestion.models import FeedbackItem
from insights.curation import corrections
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.overview import items_in_view
from insights.forms import MoveItemForm, SentimentCorrectionForm
from insights.models import (
    AssignmentMethod,
    Correction,
    ItemSentiment,
    Sentiment,
    ThemeAssignment,
    listed_items,
    themes_of_items,
)
from insights.pipeline.sentiment.stage import rating_bounds, unit_sentiments
from insights.views.pages import apply_correction, newest_first_paginated, report_invalid
from insights.wording import speaks_to_the_model


@role_required()
def item_list(request: HttpRequest) -> HttpResponse:
    filters = FeedbackFilters(request.GET)
    items = listed_items(filters.apply(FeedbackItem.objects.all())).prefetch_related(
        themes_of_items()
    )
    # Counted from the daily counts: a COUNT over a million items takes longer than the page.
    count = items_in_view(filters)
    context = {"filters": filters, **newest_first_paginated(items, filters, request.GET, count)}
    return render(request, "insights/item_list.html", context)


@role_required()
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(
        FeedbackItem.objects.select_related(
            "source",
            "sentiment__llm_model",
            "sentiment__classifier",
            "sentiment__corrected_by",
        ),
        pk=item_id,
    )
    sentiment: ItemSentiment | None = _related(item, "sentiment")
    assignments = list(
        item.theme_assignments.select_related(
            "theme__name_model", "theme__summary_model", "assigned_by"
        ).order_by("-similarity")
    )
    context = {
        "item": item,
        "rating_label": _rating_label(item),
        "sentiment": sentiment,
        "probabilities": _probabilities(sentiment),
        "units": unit_sentiments(item.text, sentiment) if sentiment else [],
        "memberships": _memberships(request, item, assignments),
        "speaks_to_the_model": speaks_to_the_model(item.text),
        "history": Correction.objects.filter(item=item).select_related(
            "made_by", "theme", "target_theme"
        ),
        **_correction_forms(request, item, sentiment, assignments),
    }
    return render(request, "insights/item_detail.html", context)


def _memberships(
    request: HttpRequest, item: FeedbackItem, assignments: list[ThemeAssignment]
) -> list[tuple[ThemeAssignment, str, SentimentCorrectionForm | None]]:
    """Each theme of the item with the sentence that put it there ("": the whole item) and,
    for a person who may correct sentiment, the form correcting the sentiment toward it
    (for a sentence only: in a theme whole, the item's own sentiment counts)."""
    may_correct = request.user.has_perm("insights.change_itemsentiment")
    memberships = []
    for assignment in assignments:
        quote = assignment.quoted(item.text) if assignment.unit_start is not None else ""
        form = None
        # A broad theme's sentiment toward the item is its sub-theme's (corrected there).
        if quote and may_correct and assignment.method != AssignmentMethod.PARENT:
            form = SentimentCorrectionForm(
                prefix=_theme_prefix(assignment.theme_id),
                initial={"sentiment": assignment.sentiment},
            )
        memberships.append((assignment, quote, form))
    return memberships


def _rating_label(item: FeedbackItem) -> str:
    """What the item's rating reads as under its source's bounds ("" for none)."""
    if item.rating is None:
        return ""
    bounds = rating_bounds(item.source)
    return bounds.label(item.rating) if bounds else ""


def _related(item: FeedbackItem, name: str) -> Any:
    """Return the item's one-to-one row by that name, or None where it has none."""
    try:
        row: Model = getattr(item, name)
    except ObjectDoesNotExist:
        return None
    return row


def _probabilities(sentiment: ItemSentiment | None) -> list[tuple[str, float]]:
    """Return (label, probability) in the fixed label order, for the labels predicted."""
    if sentiment is None:
        return []
    return [
        (label, sentiment.probabilities[label])
        for label in Sentiment.values
        if label in sentiment.probabilities
    ]


def _correction_forms(
    request: HttpRequest,
    item: FeedbackItem,
    sentiment: ItemSentiment | None,
    assignments: list[ThemeAssignment],
) -> dict[str, Any]:
    forms: dict[str, Any] = {}
    if sentiment is not None and request.user.has_perm("insights.change_itemsentiment"):
        forms["sentiment_form"] = SentimentCorrectionForm(initial={"sentiment": sentiment.label})
    if request.user.has_perm("insights.change_theme"):
        # A person moves an item into one theme; one it belongs to alone is not offered.
        specific = [a for a in assignments if a.method != AssignmentMethod.PARENT]
        alone_in = specific[0].theme if len(specific) == 1 else None
        forms["move_form"] = MoveItemForm(current=alone_in, project=item.source.project)
    return forms


@role_required("insights.change_itemsentiment")
@require_POST
def correct_sentiment(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(FeedbackItem, pk=item_id)
    form = SentimentCorrectionForm(request.POST)
    if form.is_valid():
        label = form.cleaned_data["sentiment"]
        done = f"Sentiment set to {label}; the classifier learns from it at the next analysis."
        apply_correction(request, done, corrections.correct_item_sentiment, item, label)
    else:
        report_invalid(request, form)
    return redirect("insights:item_detail", item_id=item.pk)


@role_required("insights.change_itemsentiment")
@require_POST
def correct_theme_sentiment(request: HttpRequest, item_id: int, theme_id: int) -> HttpResponse:
    assignment = get_object_or_404(ThemeAssignment, item_id=item_id, theme_id=theme_id)
    form = SentimentCorrectionForm(request.POST, prefix=_theme_prefix(theme_id))
    if form.is_valid():
        label = form.cleaned_data["sentiment"]
        done = f"Sentiment toward “{assignment.theme.name}” set to {label}."
        apply_correction(request, done, corrections.correct_theme_sentiment, assignment, label)
    else:
        report_invalid(request, form)
    return redirect("insights:item_detail", item_id=item_id)


def _theme_prefix(theme_id: int) -> str:
    """The prefix of the form correcting the sentiment toward a theme: an item page holds
    one per theme."""
    return f"theme-{theme_id}"


@role_required("insights.change_theme")
@require_POST
def move_item(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(FeedbackItem, pk=item_id)
    # The service refuses a move to the theme the item is in, with a message that says so.
    form = MoveItemForm(request.POST, current=None, project=item.source.project)
    if form.is_valid():
        theme = form.cleaned_data["theme"]
        done = f"Moved to “{theme.name}”; it stays there when themes are found again."
        apply_correction(request, done, corrections.move_item_to_theme, item, theme)
    else:
        report_invalid(request, form)
    return redirect("insights:item_detail", item_id=item.pk)
