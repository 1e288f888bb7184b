"""What the insights views share: a page of items, a correction made as the signed-in
person, and a form's errors shown as messages."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

from insights.curation import corrections
from insights.dashboards.filters import FeedbackFilters

ITEMS_PER_PAGE = 50


def paginated(
    items: QuerySet, filters: FeedbackFilters, number: str | None, count: int | None = None
) -> dict[str, Any]:
    """Return the page asked for (ITEMS_PER_PAGE items) and the queries of the pages before
    and after it, which keep the filters. count, when the caller knows it, saves a query."""
    paginator = Paginator(items, ITEMS_PER_PAGE)
    if count is not None:
        paginator.count = count  # a cached property: set, it is not counted again
    page = paginator.get_page(number)
    before = filters.query_string(page=page.previous_page_number()) if page.has_previous() else ""
    after = filters.query_string(page=page.next_page_number()) if page.has_next() else ""
    return {"page": page, "previous_query": before, "next_query": after}


def apply_correction(
    request: HttpRequest, done: str, correction: Callable[..., Any], *args: object
) -> Any:
    """Make a correction as the signed-in person and say how it went (done on success);
    return its result, or None when it could not be made."""
    try:
        result = correction(*args, request.user)
    except corrections.CorrectionError as error:
        messages.error(request, str(error))
        return None
    messages.success(request, done)
    return result


def report_invalid(request: HttpRequest, form: forms.Form) -> None:
    """Show each of the form's errors as a message, after the label of its field."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        text = " ".join(str(error) for error in errors)
        messages.error(request, f"{label}: {text}" if label else text)
