"""The dashboard filters (date range, source, kind, sentiment, rating): read from the URL so
that a view can be shared, and applied the same way to every chart, list and search."""

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from ingestion.models import DataSource, ItemKind
from insights.models import Sentiment, sentiment_label_is

NO_RATING = "none"
RATING_CHOICES = [("", "Any rating")] + [(str(n), f"{n} ★") for n in range(1, 6)]
RATING_CHOICES.append((NO_RATING, "No rating"))
FILTER_NAMES = ("start", "end", "source", "kind", "sentiment", "rating")


class FeedbackFilterForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ModelChoiceField(
        DataSource.objects.all(), required=False, empty_label="All sources"
    )
    kind = forms.ChoiceField(choices=[("", "All kinds"), *ItemKind.choices], required=False)
    sentiment = forms.ChoiceField(
        choices=[("", "Any sentiment"), *Sentiment.choices], required=False
    )
    rating = forms.ChoiceField(choices=RATING_CHOICES, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data


class FeedbackFilters:
    """The filters of one request. Values that do not validate are left out (and the form
    says why), so a bad link still shows a page."""

    def __init__(self, params: QueryDict | dict[str, str]) -> None:
        self.form = FeedbackFilterForm({k: params.get(k, "") for k in FILTER_NAMES})
        self.values: dict[str, Any] = {}
        if self.form.is_valid():
            self.values = {k: v for k, v in self.form.cleaned_data.items() if v not in ("", None)}
        else:
            self.values = {
                name: self.form.cleaned_data[name]
                for name in FILTER_NAMES
                if name not in self.form.errors
                and self.form.cleaned_data.get(name) not in ("", None)
            }

    @property
    def is_active(self) -> bool:
        return bool(self.values)

    def condition(self, path: str = "") -> Q:
        """Return the filters as one condition on FeedbackItem, or on a model that reaches
        the item through path (e.g. "item" from ThemeAssignment)."""
        prefix = f"{path}__" if path else ""
        condition = Q()
        if start := self.values.get("start"):
            condition &= Q(**{f"{prefix}created_at__gte": _day_start(start)})
        if end := self.values.get("end"):
            condition &= Q(**{f"{prefix}created_at__lt": _day_start(end + timedelta(days=1))})
        if source := self.values.get("source"):
            condition &= Q(**{f"{prefix}source": source})
        if kind := self.values.get("kind"):
            condition &= Q(**{f"{prefix}kind": kind})
        if sentiment := self.values.get("sentiment"):
            condition &= sentiment_label_is(sentiment, f"{prefix}sentiment")
        if rating := self.values.get("rating"):
            condition &= _rating_condition(rating, prefix)
        return condition

    def apply(self, queryset: QuerySet, path: str = "") -> QuerySet:
        return queryset.filter(self.condition(path))

    def query_string(self, **changes: object) -> str:
        """Return these filters as a URL query (without "?"), with changes applied; a change
        to None or "" drops that parameter."""
        params = {name: self._raw(name) for name in FILTER_NAMES if name in self.values}
        for name, value in changes.items():
            if value in (None, ""):
                params.pop(name, None)
            else:
                params[name] = str(value)
        return urlencode(params)

    def _raw(self, name: str) -> str:
        value = self.values[name]
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, DataSource):
            return str(value.pk)
        return str(value)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _rating_condition(rating: str, prefix: str) -> Q:
    if rating == NO_RATING:
        return Q(**{f"{prefix}rating__isnull": True})
    stars = int(rating)  # ratings are stored as floats on a 1-5 scale: 4 stars is 3.5 ≤ r < 4.5
    return Q(**{f"{prefix}rating__gte": stars - 0.5, f"{prefix}rating__lt": stars + 0.5})
