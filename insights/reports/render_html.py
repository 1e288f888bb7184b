"""The report as one self-contained HTML page: the archived copy, the download and the body
of the email. It links to nothing and loads nothing, so it reads the same anywhere."""

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from insights.reports.content import ReportContent

BODY_START, BODY_END = "<body>", "</body>"


def report_html(content: ReportContent) -> bytes:
    return render_to_string("insights/report_document.html", {"report": content}).encode()


def report_body(html: bytes) -> SafeString:
    """Return the inside of an archived page's body, to show it within the app's layout."""
    text = html.decode()
    # Our own page, rendered with autoescaping when it was archived.
    return mark_safe(text.split(BODY_START, 1)[-1].rsplit(BODY_END, 1)[0])  # noqa: S308
