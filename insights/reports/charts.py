"""The report's charts as PNG images, drawn by matplotlib's Agg backend: no display, no
browser, nothing fetched. Pure functions from the figures to the image bytes."""

from io import BytesIO

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from insights.models.sentiment_labels import SHOWN_LABELS
from insights.reports.content import DayFigures, ThemeFigures
from insights.wording import one_line

# Sentiment is drawn in the app's palette (insights.models.sentiment_labels), the colours of
# the dashboards' charts and the pages' text. This period is in the pages' ink (--ink in
# static/css/feedlens.css), the one before pale.
CURRENT_COLOUR = "#1d2733"
PREVIOUS_COLOUR = "#cbd5e1"
WIDTH_IN, HEIGHT_IN, DPI = 7.0, 2.8, 150
THEME_NAME_CHARS = 40
# Beyond this many days, only every n-th day is labelled.
MAX_DAY_LABELS = 14


def volume_by_sentiment_chart(days: list[DayFigures]) -> bytes:
    """Return a PNG of the items per day, stacked by sentiment."""
    figure, axes = _figure()
    positions = list(range(len(days)))
    bottom = [0] * len(days)
    for label in SHOWN_LABELS:
        values = [day.split.count_of(label) for day in days]
        axes.bar(positions, values, bottom=bottom, color=label.colour, label=label.name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    # Positions with labels, not the labels as categories: "Mon 16" reads as a date to it.
    step = max(1, -(-len(days) // MAX_DAY_LABELS))
    axes.set_xticks(positions[::step], [_day_label(day) for day in days[::step]])
    axes.set_ylabel("Items")
    axes.set_title("Feedback per day by sentiment", loc="left", fontsize=10)
    axes.legend(fontsize=7, ncols=4, loc="upper left", frameon=False)
    axes.set_ylim(0, max([*bottom, 1]) * 1.25)
    return _png(figure)


def top_themes_chart(themes: list[ThemeFigures]) -> bytes:
    """Return a PNG of the top themes' items, this period against the previous one."""
    figure, axes = _figure(height=0.35 * max(len(themes), 2) + 0.9)
    names = [one_line(theme.name, THEME_NAME_CHARS) for theme in reversed(themes)]
    positions = range(len(names))
    current = [theme.current.total for theme in reversed(themes)]
    previous = [theme.previous.total for theme in reversed(themes)]
    axes.barh(
        [p + 0.2 for p in positions], current, height=0.4, color=CURRENT_COLOUR, label="This period"
    )
    axes.barh(
        [p - 0.2 for p in positions], previous, height=0.4, color=PREVIOUS_COLOUR, label="Previous"
    )
    axes.set_yticks(list(positions), names, fontsize=7)
    axes.set_xlabel("Items")
    axes.set_title("Top themes", loc="left", fontsize=10)
    axes.legend(fontsize=7, loc="lower right", frameon=False)
    return _png(figure)


def _figure(height: float = HEIGHT_IN) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=7)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = BytesIO()
    # No Software entry: the same figures make the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _day_label(day: DayFigures) -> str:
    return f"{day.day:%a} {day.day.day} {day.day:%b}"
