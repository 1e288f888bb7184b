"""Dashboard figures: pure functions from aggregated rows to plotly figures, and the step that
hands a figure to a page (see templates/base.html and static/js/charts.js)."""

import json
from typing import Any

import plotly.graph_objects as go

from insights.models.sentiment_labels import NOT_ANALYSED, SENTIMENT_LABELS

# One colour per sentiment, the same on every chart and page (see sentiment_labels).
SENTIMENT_COLOURS = {label.value: label.colour for label in SENTIMENT_LABELS}
NOT_ANALYSED_COLOUR = NOT_ANALYSED.colour
_LAYOUT: dict[str, Any] = {
    "margin": {"l": 48, "r": 16, "t": 40, "b": 40},
    "height": 320,
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.2},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
}


def page_figure(figure_id: str, figure: go.Figure) -> dict[str, Any]:
    """Return what a page's `figures` list takes: the id its <div data-figure> names, and the
    figure as plain JSON (plotly's own encoder turns numpy and dates into JSON)."""
    return {"id": figure_id, "figure": json.loads(figure.to_json())}


def weekly_sentiment_figure(rows: list[dict[str, Any]], title: str) -> go.Figure:
    """Stacked weekly bars of items by sentiment (rows from dashboard.weekly_sentiment_counts);
    items not scored yet are shown grey as "not analysed"."""
    bars = _sentiment_bars([row["week"] for row in rows], rows, horizontal=False)
    return go.Figure(bars, _stacked_layout(title, xaxis={"type": "date"}, yaxis={"title": "items"}))


def sentiment_by_source_figure(rows: list[dict[str, Any]], title: str) -> go.Figure:
    """One horizontal bar per source, stacked by sentiment; rows {"name", "total",
    "negative", "neutral", "positive"}, drawn top to bottom in the order given."""
    return _ranked_bars_figure(rows, title)


def theme_volume_figure(rows: list[dict[str, Any]], title: str) -> go.Figure:
    """The themes with the most items as horizontal bars stacked by sentiment, biggest on
    top when rows come biggest first; rows as for sentiment_by_source_figure."""
    return _ranked_bars_figure(rows, title)


def _ranked_bars_figure(rows: list[dict[str, Any]], title: str) -> go.Figure:
    bars = _sentiment_bars(_unique_labels([row["name"] for row in rows]), rows, horizontal=True)
    layout = _stacked_layout(
        title,
        # Plotly draws the first category at the bottom: reversed, the list reads top down.
        yaxis={"autorange": "reversed"},
        height=max(220, 110 + 26 * len(rows)),
        margin={**_LAYOUT["margin"], "l": 180},
    )
    return go.Figure(bars, layout)


def _stacked_layout(title: str, **changes: Any) -> dict[str, Any]:
    """Return the shared layout for bars stacked by sentiment, with changes. One layout
    given to go.Figure, not several update_layout calls: each call validates the whole
    layout again, which cost the overview tens of milliseconds."""
    return {
        **_LAYOUT,
        "title": {"text": title, "x": 0, "font": {"size": 14}},
        "barmode": "stack",
        # Stacked bars list their legend backwards unless told otherwise.
        "legend": {**_LAYOUT["legend"], "traceorder": "normal"},
        **changes,
    }


def _sentiment_bars(
    categories: list[Any], rows: list[dict[str, Any]], horizontal: bool
) -> list[go.Bar]:
    """Return bars stacked by sentiment, one per category; items without a sentiment yet
    are a grey "not analysed" part, left out when there are none."""
    counts = {label: [row[label.value] for row in rows] for label in SENTIMENT_LABELS}
    unscored = [row["total"] - sum(row[label.value] for label in SENTIMENT_LABELS) for row in rows]
    if any(unscored):
        counts[NOT_ANALYSED] = unscored
    orientation = "h" if horizontal else "v"
    return [
        go.Bar(
            **({"y": categories, "x": values} if horizontal else {"x": categories, "y": values}),
            name=label.legend,
            marker_color=label.colour,
            orientation=orientation,
        )
        for label, values in counts.items()
    ]


def _unique_labels(names: list[str]) -> list[str]:
    """Return the names as plain-text category labels. Plotly merges bars that share a
    category (two themes may share a name), and it reads tags in labels (<a href>, <b>):
    a name is drawn as the text it is, never as a link."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(plain_text(name if seen[name] == 1 else f"{name} ({seen[name]})"))
    return labels


def plain_text(text: str) -> str:
    """Return text as plotly draws it literally: its entities for the characters that
    start tags and entities (plotly decodes &amp;, &lt; and &gt; back when it draws)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
