"""The sentiment label registry: choices, counts, CSV columns, chart and page colours all
come from insights.models.sentiment_labels."""

import csv
import io
from dataclasses import fields
from datetime import UTC, date, datetime

import numpy as np
from django.template.loader import render_to_string
from matplotlib.image import imread

from insights.dashboards.overview import SPLIT_COLUMNS, SentimentSplit
from insights.models import Sentiment
from insights.models.sentiment_labels import (
    NEGATIVE,
    NOT_ANALYSED,
    POSITIVE,
    SENTIMENT_LABELS,
    SHOWN_LABELS,
)
from insights.reports.charts import volume_by_sentiment_chart
from insights.reports.content import (
    WHOLE_WORKSPACE,
    DayFigures,
    ReportContent,
    ThemeFigures,
)
from insights.reports.period import Period
from insights.reports.render_csv import themes_csv
from insights.templatetags.sentiment_labels import sentiment_styles

WEEK = Period(date(2026, 11, 16), date(2026, 11, 22), "UTC")


def test_the_stored_choices_are_the_registrys_labels() -> None:
    assert Sentiment.choices == [(label.value, label.name) for label in SENTIMENT_LABELS]


def test_a_split_counts_each_label_and_the_items_not_analysed_yet() -> None:
    assert [field.name for field in fields(SentimentSplit)] == list(SPLIT_COLUMNS)
    row = {"now_total": 10, "now_negative": 3, "now_neutral": 2, "now_positive": 1}
    split = SentimentSplit.from_row(row, "now_")
    assert [split.count_of(label) for label in SHOWN_LABELS] == [3, 2, 1, 4]


def report_with(theme: ThemeFigures) -> ReportContent:
    return ReportContent(
        period=WEEK,
        previous_period=WEEK.previous(),
        scope=WHOLE_WORKSPACE,
        source_names=[],
        project_name="",
        totals=theme.current,
        previous_totals=theme.previous,
        days=[],
        sources=[],
        themes=[theme],
        top_themes=[theme],
        new_themes=[],
        rising_themes=[],
        more_negative_themes=[],
        generated_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


def test_the_themes_csv_has_a_column_per_label_named_by_the_registry() -> None:
    theme = ThemeFigures(
        id=7,
        name="Sync fails",
        current=SentimentSplit(10, 3, 2, 1),
        previous=SentimentSplit(2, 1, 0, 0),
        first_seen_at=None,
        is_new=False,
    )
    header, row = list(csv.reader(io.StringIO(themes_csv(report_with(theme)).decode("utf-8-sig"))))
    columns = [label.csv_column for label in SHOWN_LABELS]
    assert columns == ["negative", "neutral", "positive", "not_analysed"]
    start = header.index(columns[0])
    assert header[start : start + 4] == columns
    assert row[start : start + 4] == ["3", "2", "1", "4"]


def test_the_volume_rows_name_each_label_as_the_registry_does() -> None:
    theme = ThemeFigures(
        7, "Sync", SentimentSplit(5, 1, 1, 1), SentimentSplit(0, 0, 0, 0), None, True
    )
    rows = report_with(theme).volume_rows
    assert [row["label"] for row in rows] == ["Items", *(label.name for label in SHOWN_LABELS)]
    assert rows[-1] == {"label": NOT_ANALYSED.name, "now": 2, "before": 0, "percent": None}


def pixels_of(png: bytes, colour: str) -> int:
    """Return how many pixels of the PNG have exactly the colour ("#rrggbb")."""
    image = (imread(io.BytesIO(png))[:, :, :3] * 255).round().astype(int)
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return int(np.all(image == rgb, axis=2).sum())


def test_the_report_chart_draws_sentiment_in_the_registrys_colours() -> None:
    days = [DayFigures(day, SentimentSplit(8, 8, 0, 0)) for day in WEEK.day_list()]
    png = volume_by_sentiment_chart(days)
    drawn = {label.value: pixels_of(png, label.colour) for label in SHOWN_LABELS}
    assert drawn["negative"] > 10_000  # every bar
    # The others have no items: only their legend patches, still in their colours.
    assert all(0 < drawn[label.value] < 1000 for label in SHOWN_LABELS if label != NEGATIVE)
    assert pixels_of(png, "#c0392b") == 0  # the report's old negative


def test_pages_and_the_report_document_colour_labels_from_the_registry() -> None:
    styles = str(sentiment_styles())
    for label in SENTIMENT_LABELS:
        assert f".{label.value} {{ color: {label.colour}; }}" in styles
    theme = ThemeFigures(
        7, "Sync", SentimentSplit(5, 1, 1, 1), SentimentSplit(0, 0, 0, 0), None, True
    )
    html = render_to_string("insights/report_document.html", {"report": report_with(theme)})
    assert f".report-document .up {{ color: {NEGATIVE.colour}; }}" in html
    assert f".report-document .down {{ color: {POSITIVE.colour}; }}" in html
