"""Counts of items kept for the dashboards: per day, source, kind, rating point and
sentiment, the same per theme, and both per value of each segment field. At a million
items the overview counted from the items took 4.5 s (docs/benchmarks.md, issue 21); from
these rows, which number in the thousands to tens of thousands, it takes milliseconds.
insights.dashboards.daily_counts writes them from the items, their sentiment and their
themes, and reads them for the pages."""

from django.db import models

from ingestion.models import DataSource
from insights.models.analysis import Theme


class DailyCounts(models.Model):
    """What both counts are per: every filter on the dashboards is a condition on these
    columns (insights.dashboards.filters.FeedbackFilters.daily_condition)."""

    # The item's date in the site's time zone (the date filters' days); null: no date.
    day = models.DateField(null=True)
    source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    # The rating rounded half up, in its source's units (the rating filter's points:
    # 4 is 3.5 <= rating < 4.5); null: no rating.
    rating_point = models.SmallIntegerField(null=True)
    # The item's sentiment in effect (a person's, else the prediction); "": none yet.
    sentiment = models.CharField(max_length=10, blank=True)
    items = models.PositiveIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.items} items of {self.day or 'no date'} in source {self.source_id}"


class ThemeColumns(models.Model):
    """What counts per theme add: the theme, and the items' sentiment toward it."""

    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="+")
    # The item's sentiment toward the theme (insights.models.theme_sentiment_label_is).
    toward_theme = models.CharField(max_length=10, blank=True)

    class Meta:
        abstract = True


class SegmentColumns(models.Model):
    """What counts per segment add: a metadata field kept as a segment (app version, plan,
    country: insights.segments.segment_fields) and the items' value of it, as text."""

    field = models.CharField(max_length=100)
    value = models.CharField(max_length=80)

    class Meta:
        abstract = True


class DailyItemCount(DailyCounts):
    """How many items there are of each day, source, kind, rating point and sentiment."""

    class Meta:
        indexes = [
            # Refreshing the days of a source (and the project filter's join by source).
            models.Index(fields=["source", "day"], name="daily_item_source_day"),
        ]


class DailyThemeCount(ThemeColumns, DailyCounts):
    """How many items of each day, source, kind, rating point and sentiment are in each
    theme, by their sentiment toward it (an item may be in several themes)."""

    class Meta:
        indexes = [
            models.Index(fields=["source", "day"], name="daily_theme_source_day"),
            # A theme's page, and refreshing a theme's counts.
            models.Index(fields=["theme", "day"], name="daily_theme_theme_day"),
        ]


class DailySegmentCount(SegmentColumns, DailyCounts):
    """DailyItemCount for each value of each segment field: an item counts once per field
    it has a value of."""

    class Meta:
        indexes = [
            models.Index(fields=["source", "day"], name="daily_segment_source_day"),
            # A segment filter, and the segments' shares of all feedback.
            models.Index(fields=["field", "value"], name="daily_segment_field_value"),
        ]


class DailyThemeSegmentCount(SegmentColumns, ThemeColumns, DailyCounts):
    """DailyThemeCount for each value of each segment field."""

    class Meta:
        indexes = [
            models.Index(fields=["source", "day"], name="daily_theme_seg_source_day"),
            # A theme's segments, on its page.
            models.Index(fields=["theme", "field"], name="daily_theme_seg_theme_field"),
        ]
