"""The dashboard filters (project, date range, source, kind, sentiment, rating, segment): read
from the URL so that a view can be shared, and applied the same way to every chart, list and
search."""

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Left
from django.db.models.lookups import Exact
from django.http import HttpRequest, QueryDict
from django.utils import timezone

from ingestion.models import DataSource, ItemKind, Project
from ingestion.ratings import SCALE_FACTS, RatingScale, format_rating
from insights.models import (
    DailyItemCount,
    DailySegmentCount,
    DailyThemeCount,
    DailyThemeSegmentCount,
    Sentiment,
    sentiment_label_is,
)

NO_RATING = "none"
# Ratings are filtered in their source's own units, so a choice says its scale: "4" is four
# out of five and "4/10" four out of ten, which are far apart. Stars and a 1-5 satisfaction
# score (CSAT) share choices, as 1-10 and 0-10 (NPS) do.
STARS = RatingScale.STARS
FIVE_POINT_SCALES = (STARS, RatingScale.CSAT)
TEN_POINT_SCALES = (RatingScale.TEN, RatingScale.NPS)
OUT_OF_TEN = "/10"
FILTER_NAMES = ("project", "start", "end", "source", "kind", "sentiment", "rating", "segment")
# A segment filter's value: a metadata field and its value, "platform=Android".
SEGMENT_SEPARATOR = "="
# Segment values are kept (and matched) to this length: longer ones are free text.
SEGMENT_VALUE_LENGTH = 80


class FeedbackFilterForm(forms.Form):
    project = forms.ModelChoiceField(
        Project.objects.all(), required=False, empty_label="All projects"
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ModelChoiceField(
        DataSource.objects.all(), required=False, empty_label="All sources"
    )
    kind = forms.ChoiceField(choices=[("", "All kinds"), *ItemKind.choices], required=False)
    sentiment = forms.ChoiceField(
        choices=[("", "Any sentiment"), *Sentiment.choices], required=False
    )
    rating = forms.ChoiceField(required=False)
    segment = forms.ChoiceField(required=False)

    def __init__(
        self,
        *args: Any,
        scales: set[RatingScale],
        projects: int,
        segments: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        """scales: the rating scales in use; projects: how many projects have sources;
        segments: each segment field's values, as (field, value)."""
        super().__init__(*args, **kwargs)
        rating, segment = self.fields["rating"], self.fields["segment"]
        assert isinstance(rating, forms.ChoiceField) and isinstance(segment, forms.ChoiceField)
        rating.choices = rating_choices(scales)
        segment.choices = segment_choices(segments)
        if projects < 2:
            del self.fields["project"]  # a workspace of one product has nothing to choose
        if not segments:
            del self.fields["segment"]  # no metadata field to filter by

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data


class FeedbackFilters:
    """The filters of one request. Values that do not validate are left out (and the form
    says why), so a bad link still shows a page."""

    def __init__(self, params: QueryDict | dict[str, str]) -> None:
        # Each source's rating scale: the rating filter's choices and what a choice matches.
        sources = list(DataSource.objects.all())
        self.scales = {source.pk: source.scale_of_ratings for source in sources}
        in_use = {scale for scale in self.scales.values() if scale}
        projects = len({source.project_id for source in sources})
        segments = DailySegmentCount.objects.order_by("field", "value").values_list(
            "field", "value"
        )
        self.form = FeedbackFilterForm(
            {k: params.get(k, "") for k in FILTER_NAMES},
            scales=in_use,
            projects=projects,
            segments=list(segments.distinct()),
        )
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

    @property
    def several_projects(self) -> bool:
        """Whether the workspace holds several projects (pages then say each theme's)."""
        return "project" in self.form.fields

    def condition(self, path: str = "") -> Q:
        """Return the filters as one condition on FeedbackItem, or on a model that reaches
        the item through path (e.g. "item" from ThemeAssignment)."""
        prefix = f"{path}__" if path else ""
        condition = Q()
        if project := self.values.get("project"):
            condition &= Q(**{f"{prefix}source__project": project})
        if start := self.values.get("start"):
            condition &= Q(**{f"{prefix}created_at__gte": start_of_day(start)})
        if end := self.values.get("end"):
            condition &= Q(**{f"{prefix}created_at__lt": start_of_day(end + timedelta(days=1))})
        if source := self.values.get("source"):
            condition &= Q(**{f"{prefix}source": source})
        if kind := self.values.get("kind"):
            condition &= Q(**{f"{prefix}kind": kind})
        if sentiment := self.values.get("sentiment"):
            condition &= sentiment_label_is(sentiment, f"{prefix}sentiment")
        if rating := self.values.get("rating"):
            condition &= self._rating_condition(rating, prefix)
        if segment := self.segment:
            field, value = segment
            condition &= Q(Exact(metadata_value(field, prefix), value))
        return condition

    @property
    def segment(self) -> tuple[str, str] | None:
        """The segment filtered by, as (metadata field, value); None: no segment filter."""
        chosen = self.values.get("segment")
        if not chosen:
            return None
        field, _, value = chosen.partition(SEGMENT_SEPARATOR)
        return field, value

    def item_counts(self) -> QuerySet[Any]:
        """The daily counts of the items the filters let through (DailyItemCount rows, or
        the segment's DailySegmentCount rows)."""
        if segment := self.segment:
            field, value = segment
            return DailySegmentCount.objects.filter(
                self.daily_condition(), field=field, value=value
            )
        return DailyItemCount.objects.filter(self.daily_condition())

    def theme_counts(self) -> QuerySet[Any]:
        """The daily counts per theme of the items the filters let through (DailyThemeCount
        rows, or the segment's DailyThemeSegmentCount rows)."""
        if segment := self.segment:
            field, value = segment
            rows = DailyThemeSegmentCount.objects.filter(field=field, value=value)
            return rows.filter(self.daily_condition())
        return DailyThemeCount.objects.filter(self.daily_condition())

    def daily_condition(self) -> Q:
        """Return the filters but the segment as one condition on the daily counts
        (insights.models.DailyCounts), which keep each item's day, source, kind, rating
        point and sentiment: with the segment's rows (item_counts, theme_counts), the same
        items as condition() lets through."""
        condition = Q()
        if project := self.values.get("project"):
            condition &= Q(source__project=project)
        if start := self.values.get("start"):
            condition &= Q(day__gte=start)
        if end := self.values.get("end"):
            condition &= Q(day__lte=end)
        if source := self.values.get("source"):
            condition &= Q(source=source)
        if kind := self.values.get("kind"):
            condition &= Q(kind=kind)
        if sentiment := self.values.get("sentiment"):
            condition &= Q(sentiment=sentiment)
        if rating := self.values.get("rating"):
            if rating == NO_RATING:
                condition &= Q(rating_point__isnull=True)
            else:
                sources, point = self._rated(rating)
                condition &= Q(source__in=sources, rating_point=point)
        return condition

    def _rating_condition(self, rating: str, prefix: str) -> Q:
        if rating == NO_RATING:
            return Q(**{f"{prefix}rating__isnull": True})
        # Ratings are stored as floats: 4 is 3.5 <= r < 4.5 (the daily counts' rating point).
        sources, point = self._rated(rating)
        return Q(
            **{
                f"{prefix}source__in": sources,
                f"{prefix}rating__gte": point - 0.5,
                f"{prefix}rating__lt": point + 0.5,
            }
        )

    def _rated(self, rating: str) -> tuple[list[int], int]:
        """The sources a rating choice ("4", "7/10") is on the scale of, and its point; a
        source whose scale is not known yet (no rating above 3) is taken to use stars."""
        points, out_of_ten, _ = rating.partition(OUT_OF_TEN)
        scales = TEN_POINT_SCALES if out_of_ten else FIVE_POINT_SCALES
        sources = [pk for pk, scale in self.scales.items() if (scale or STARS) in scales]
        return sources, int(points)

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
        if isinstance(value, DataSource | Project):
            return str(value.pk)
        return str(value)


def start_of_day(day: date) -> datetime:
    """The first moment of the day in the site's time zone: where the date filters cut."""
    return timezone.make_aware(datetime.combine(day, time.min))


def metadata_value(field: str, item: str = "") -> Left:
    """The value of the metadata field of the item a path leads to ("" for the items
    themselves) as text, as segments are counted and filtered (null where it has none)."""
    as_text = Cast(KeyTextTransform(field, f"{item}metadata"), TextField())
    return Left(as_text, SEGMENT_VALUE_LENGTH)


def segment_choices(segments: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    """The segment filter's choices: each field's values, under the field's name and named
    with it (a closed menu shows the chosen value alone: "4.2.0" says nothing)."""
    by_field: dict[str, list[tuple[str, str]]] = {}
    for field, value in segments:
        chosen = (f"{field}{SEGMENT_SEPARATOR}{value}", f"{field}: {value}")
        by_field.setdefault(field, []).append(chosen)
    return [("", "Any segment"), *by_field.items()]


def rating_choices(scales: set[RatingScale]) -> list[tuple[str, Any]]:
    """The rating filter's choices: out of five (always, the common scale; written as stars
    unless the only five-point scale in use is CSAT), out of ten where a source rates so
    (from the lowest rating of the ten-point scales in use), and no rating."""
    only_csat = RatingScale.CSAT in scales and STARS not in scales
    five_point = RatingScale.CSAT if only_csat else STARS
    facts = SCALE_FACTS[five_point]
    fives = [(str(n), format_rating(n, five_point)) for n in range(facts.lowest, facts.highest + 1)]
    choices: list[tuple[str, Any]] = [("", "Any rating")]
    tens_in_use = [SCALE_FACTS[scale] for scale in TEN_POINT_SCALES if scale in scales]
    if not tens_in_use:
        return [*choices, *fives, (NO_RATING, "No rating")]
    lowest = min(facts.lowest for facts in tens_in_use)
    highest = max(facts.highest for facts in tens_in_use)
    tens = [(f"{n}{OUT_OF_TEN}", f"{n}{OUT_OF_TEN}") for n in range(lowest, highest + 1)]
    group = "Out of 5" if only_csat else "Stars"
    return [*choices, (group, fives), ("Out of 10", tens), (NO_RATING, "No rating")]


def kept_project(request: HttpRequest) -> dict[str, str]:
    """Template context: the query that keeps the project chosen in the filters on the
    pages the navigation links to that filter by it ("" where none is chosen)."""
    project = request.GET.get("project", "")
    return {"kept_project": f"?{urlencode({'project': project})}" if project.isdigit() else ""}
