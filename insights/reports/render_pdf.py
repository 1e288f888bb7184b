"""The report as a PDF with its charts, laid out by reportlab; the charts are PNGs from
insights.reports.charts. The same content makes the same bytes (reportlab's invariant mode),
and nothing is fetched."""

from functools import cache
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from insights.reports.charts import HEIGHT_IN, WIDTH_IN, top_themes_chart, volume_by_sentiment_chart
from insights.reports.content import ReportContent, ThemeFigures

# DejaVu Sans comes with matplotlib and covers far more scripts than the PDF base fonts;
# ASCII stays readable in the page streams (reportlab's asciiReadable subsets).
FONT, BOLD_FONT = "DejaVuSans", "DejaVuSans-Bold"
CHART_WIDTH = 17 * cm
TABLE_STYLE = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTNAME", (0, 0), (-1, 0), BOLD_FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dde3e6")),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def report_pdf(content: ReportContent) -> bytes:
    """Return the report as PDF bytes."""
    _register_fonts()
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Feedlens report {content.period.label}",
        author="Feedlens",
        invariant=True,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=1.8 * cm,
        bottomMargin=1.8 * cm,
    )
    document.build(_story(content))
    return buffer.getvalue()


@cache
def _register_fonts() -> None:
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, folder / "DejaVuSans.ttf", asciiReadable=True))
    pdfmetrics.registerFont(TTFont(BOLD_FONT, folder / "DejaVuSans-Bold.ttf", asciiReadable=True))


@cache
def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", base["Title"], fontName=BOLD_FONT, fontSize=16),
        "h2": ParagraphStyle("h2", base["Heading2"], fontName=BOLD_FONT, fontSize=12),
        "h3": ParagraphStyle("h3", base["Heading3"], fontName=BOLD_FONT, fontSize=10),
        "body": ParagraphStyle("body", base["BodyText"], fontName=FONT, fontSize=9),
        "note": ParagraphStyle(
            "note", base["BodyText"], fontName=FONT, fontSize=8, textColor=colors.grey
        ),
        "quote": ParagraphStyle(
            "quote", base["BodyText"], fontName=FONT, fontSize=8, leftIndent=12, textColor="#555555"
        ),
    }


def _story(content: ReportContent) -> list[Flowable]:
    styles = _styles()
    period, previous = content.period, content.previous_period
    story: list[Flowable] = [
        Paragraph(escape(f"Feedback report: {period.label}"), styles["title"]),
        _p(
            f"{content.sources_label} · {period.start} to {period.end} ({period.time_zone}) · "
            f"compared with {previous.start} to {previous.end}",
            "note",
        ),
        Paragraph("Volume and sentiment", styles["h2"]),
        _volume_table(content),
        _chart(volume_by_sentiment_chart(content.days), HEIGHT_IN),
    ]
    if content.top_themes:
        height = 0.35 * max(len(content.top_themes), 2) + 0.9
        story.append(_chart(top_themes_chart(content.top_themes), height))
    if content.rating_scale is not None:
        story += [
            Paragraph("What to fix first", styles["h2"]),
            _p(
                f"{content.fix_first_rule} Ratings on the {content.rating_scale.label} scale: "
                f"{content.rated_items} rated items this period.",
                "note",
            ),
        ]
        fixes = [part for theme in content.fix_first for part in _theme(theme, impact=True)]
        story += fixes or [_p("No theme's items are rated clearly below the others'.")]
    sections = [
        ("Top themes", content.top_themes, "No feedback in this period has a theme yet."),
        ("New themes", content.new_themes, "No new themes."),
        ("Rising themes", content.rising_themes, "No theme grew beyond chance."),
        (
            "Themes more negative than before",
            content.more_negative_themes,
            "No theme's negative share grew by 10 points or more.",
        ),
    ]
    for title, themes, empty in sections:
        story.append(Paragraph(title, styles["h2"]))
        story += [flowable for theme in themes for flowable in _theme(theme)] or [_p(empty)]
    story += [Paragraph("Items per source", styles["h2"]), _sources_table(content)]
    return story


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(escape(text), _styles()[style])


def _chart(png: bytes, height_in: float) -> Image:
    return Image(BytesIO(png), width=CHART_WIDTH, height=CHART_WIDTH * height_in / WIDTH_IN)


def _change(percent: int | None, now: int) -> str:
    if percent is None:
        return "new" if now else "—"
    return f"{percent:+d} %"


def _share(percent: int | None) -> str:
    return "—" if percent is None else f"{percent} %"


def _table(rows: list[list[object]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=[w * cm for w in widths], repeatRows=1, hAlign="LEFT")
    table.setStyle(TABLE_STYLE)
    return table


def _volume_table(content: ReportContent) -> Table:
    rows: list[list[object]] = [["", "This period", "Previous", "Change"]]
    for row in content.volume_rows:
        rows.append([row["label"], row["now"], row["before"], _change(row["percent"], row["now"])])
    rows.append(
        [
            "Negative share",
            _share(content.totals.negative_percent),
            _share(content.previous_totals.negative_percent),
            "",
        ]
    )
    return _table(rows, [5, 3, 3, 3])


def _theme(theme: ThemeFigures, impact: bool = False) -> list[Flowable]:
    styles = _styles()
    figures = (
        f"{theme.current.total} items (previous period {theme.previous.total}, "
        f"{_change(theme.growth_percent, theme.current.total)}); negative "
        f"{_share(theme.current.negative_percent)} (was {_share(theme.previous.negative_percent)})"
    )
    parts: list[Flowable] = [Paragraph(escape(theme.name), styles["h3"]), _p(figures, "note")]
    if impact and theme.impact is not None:
        parts.append(_p(theme.impact.summary))
    if theme.segments:
        parts.append(_p(f"Over-represented: {theme.segments_line}", "note"))
    parts += [_p(f"• {sentence}") for sentence in theme.summary]
    if theme.summary_note:
        parts.append(_p(theme.summary_note, "note"))
    parts += [_p(f"“{quote.text}” (item {quote.item_id})", "quote") for quote in theme.quotes]
    parts.append(Spacer(1, 4))
    return parts


def _sources_table(content: ReportContent) -> Table:
    rows: list[list[object]] = [["Source", "This period", "Previous", "Change", "Negative"]]
    for source in content.sources:
        rows.append(
            [
                Paragraph(escape(source.name), _styles()["body"]),
                source.current.total,
                source.previous.total,
                _change(source.growth_percent, source.current.total),
                _share(source.current.negative_percent),
            ]
        )
    if len(rows) == 1:
        rows.append(["No feedback in either period.", "", "", "", ""])
    return _table(rows, [6, 2.5, 2.5, 2.5, 2.5])
