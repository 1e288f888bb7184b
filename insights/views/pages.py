"""What the insights views share: a page of items, a correction made as the signed-in
person, and a form's errors shown as messages."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import F, QuerySet
from django.http import HttpRequest, QueryDict

from ingestion.models import FeedbackItem
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


def newest_first_paginated(
    items: QuerySet[FeedbackItem], filters: FeedbackFilters, params: QueryDict, count: int
) -> dict[str, Any]:
    """paginated() for items in their own order (newest first), reading the pages after
    and before this one from where it ends and starts (the links carry the first or the
    last item's date and id) instead of counting past every item before them: page 20,000
    of a million items costs what page 2 does. count: how many items there are."""
    paginator = Paginator(items, ITEMS_PER_PAGE)
    paginator.count = count
    number = _page_number(paginator, params.get("page"))
    after, before = _cursor(params.get("after")), _cursor(params.get("before"))
    if number > 1 and after is not None:
        rows = _older(items, after)
    elif number > 1 and before is not None:
        rows = _newer(items, before)
    else:
        rows = list(paginator.page(number).object_list)
    page = Page(rows, number, paginator)
    before_query = after_query = ""
    if page.has_previous() and rows:
        newest = {"before": cursor_of(rows[0])} if number > 2 else {}
        before_query = filters.query_string(page=number - 1, **newest)
    if page.has_next() and rows:
        after_query = filters.query_string(page=number + 1, after=cursor_of(rows[-1]))
    return {"page": page, "previous_query": before_query, "next_query": after_query}


# An item's place in the newest-first order, as a link writes it: its date (ISO 8601, ""
# for none) and its id.
Cursor = tuple[datetime | None, int]


def cursor_of(item: FeedbackItem) -> str:
    """Where the item is in the newest-first order, as a link says it."""
    return f"{item.created_at.isoformat() if item.created_at else ''}|{item.pk}"


def _cursor(text: str | None) -> Cursor | None:
    """The cursor a link wrote, or None for one that does not read as one."""
    when, _, pk = (text or "").rpartition("|")
    try:
        return (datetime.fromisoformat(when) if when else None, int(pk))
    except ValueError:
        return None


def _page_number(paginator: Paginator, number: str | None) -> int:
    try:
        return int(paginator.validate_number(number or 1))
    except (PageNotAnInteger, EmptyPage):
        return 1 if not str(number or "").isdigit() else paginator.num_pages


def _older(items: QuerySet[FeedbackItem], cursor: Cursor) -> list[FeedbackItem]:
    """The page of items after the cursor, newest first: dated ones from an index range,
    then, once those run out, the undated ones (they come last)."""
    when, pk = cursor
    undated = items.filter(created_at__isnull=True)
    if when is None:
        return list(undated.filter(pk__lt=pk)[:ITEMS_PER_PAGE])
    dated = items.filter(created_at__lte=when).exclude(created_at=when, pk__gte=pk)
    rows = list(dated[:ITEMS_PER_PAGE])
    return (
        rows + list(undated[: ITEMS_PER_PAGE - len(rows)]) if len(rows) < ITEMS_PER_PAGE else rows
    )


def _newer(items: QuerySet[FeedbackItem], cursor: Cursor) -> list[FeedbackItem]:
    """The page of items before the cursor, newest first: read oldest first from it."""
    when, pk = cursor
    oldest_first = items.order_by(F("created_at").asc(nulls_first=True), "pk")
    dated = oldest_first.filter(created_at__isnull=False)
    if when is None:
        rows = list(oldest_first.filter(created_at__isnull=True, pk__gt=pk)[:ITEMS_PER_PAGE])
        rows += list(dated[: ITEMS_PER_PAGE - len(rows)]) if len(rows) < ITEMS_PER_PAGE else []
    else:
        rows = list(
            dated.filter(created_at__gte=when).exclude(created_at=when, pk__lte=pk)[:ITEMS_PER_PAGE]
        )
    return rows[::-1]


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
