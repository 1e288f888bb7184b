import json
from datetime import UTC, datetime

import plotly.graph_objects as go

from insights.dashboards import charts
from insights.dashboards.charts import NOT_ANALYSED_COLOUR, SENTIMENT_COLOURS

WEEKS = [datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)]


def week(when: datetime, total: int, negative: int, neutral: int, positive: int) -> dict:
    return {
        "week": when,
        "total": total,
        "negative": negative,
        "neutral": neutral,
        "positive": positive,
    }


def group(name: str, total: int, negative: int, neutral: int, positive: int) -> dict:
    return {
        "name": name,
        "total": total,
        "negative": negative,
        "neutral": neutral,
        "positive": positive,
    }


def bars(figure: go.Figure) -> dict[str, go.Bar]:
    return {trace.name: trace for trace in figure.data}


def test_weekly_bars_stack_each_sentiment_in_its_colour() -> None:
    rows = [week(WEEKS[0], 6, 3, 2, 1), week(WEEKS[1], 4, 0, 1, 3)]
    figure = charts.weekly_sentiment_figure(rows, "Items per week")
    traces = bars(figure)
    assert list(traces) == ["negative", "neutral", "positive"]
    assert list(traces["negative"].y) == [3, 0]
    assert list(traces["positive"].y) == [1, 3]
    assert list(traces["neutral"].x) == WEEKS
    assert {name: trace.marker.color for name, trace in traces.items()} == SENTIMENT_COLOURS
    assert figure.layout.barmode == "stack"
    assert figure.layout.title.text == "Items per week"


def test_weekly_bars_show_items_not_analysed_yet_in_grey() -> None:
    figure = charts.weekly_sentiment_figure([week(WEEKS[0], 10, 3, 2, 1)], "Items per week")
    not_analysed = bars(figure)["not analysed"]
    assert list(not_analysed.y) == [4]
    assert not_analysed.marker.color == NOT_ANALYSED_COLOUR


def test_sentiment_by_source_draws_one_horizontal_bar_per_source_top_down() -> None:
    rows = [group("App Store", 5, 1, 1, 3), group("Help desk", 3, 2, 1, 0)]
    figure = charts.sentiment_by_source_figure(rows, "Sentiment by source")
    traces = bars(figure)
    assert list(traces) == ["negative", "neutral", "positive"]
    assert all(trace.orientation == "h" for trace in figure.data)
    assert list(traces["negative"].y) == ["App Store", "Help desk"]
    assert list(traces["negative"].x) == [1, 2]
    assert list(traces["positive"].x) == [3, 0]
    assert traces["negative"].marker.color == SENTIMENT_COLOURS["negative"]
    assert figure.layout.yaxis.autorange == "reversed"
    assert figure.layout.barmode == "stack"


def test_theme_bars_keep_two_themes_of_the_same_name_apart() -> None:
    rows = [group("Crashes", 4, 4, 0, 0), group("Crashes", 2, 0, 0, 1)]
    figure = charts.theme_volume_figure(rows, "Top themes by volume")
    traces = bars(figure)
    assert list(traces["negative"].y) == ["Crashes", "Crashes (2)"]
    assert list(traces["not analysed"].x) == [0, 1]


def test_a_name_with_markup_is_a_plain_label_not_a_link() -> None:
    name = '<a href="https://attacker.example">Refunds</a> & <b>more</b>'
    figure = charts.theme_volume_figure([group(name, 3, 1, 1, 1)], "Top themes by volume")
    [label] = bars(figure)["negative"].y
    assert "<" not in label and ">" not in label
    assert label == (
        '&lt;a href="https://attacker.example"&gt;Refunds&lt;/a&gt; &amp; &lt;b&gt;more&lt;/b&gt;'
    )


def test_a_page_figure_is_plain_json_under_its_id() -> None:
    figure = charts.weekly_sentiment_figure([week(WEEKS[0], 1, 1, 0, 0)], "Items per week")
    page_figure = charts.page_figure("figure-volume", figure)
    assert page_figure["id"] == "figure-volume"
    assert json.loads(json.dumps(page_figure["figure"]))["data"][0]["y"] == [1]
    assert page_figure["figure"]["data"][0]["x"][0].startswith("2026-11-02")


def test_the_legend_lists_sentiments_negative_first() -> None:
    figure = charts.sentiment_by_source_figure([group("App Store", 2, 1, 1, 0)], "By source")
    assert figure.layout.legend.traceorder == "normal"
    assert [trace.name for trace in figure.data] == ["negative", "neutral", "positive"]
