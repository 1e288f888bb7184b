"""Reports by email, through Django's email settings (SMTP in production, a file in the
demo): the HTML page as the body, the PDF and the two CSV files attached."""

import smtplib
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from insights.models import Report
from insights.reports.archive import FILES, available_files, file_name, report_file

ATTACHED = ("pdf", "themes_csv", "items_csv")


class EmailDelayed(Exception):
    """The mail server could not take the message now (it was down, busy or said 4xx):
    worth trying again later."""


class EmailRefused(Exception):
    """The mail server refused the message for good (5xx: a bad address, a login that
    fails): trying again will not help; the schedule must be fixed."""


def report_subject(report: Report, title: str = "") -> str:
    label = report.parameters.get("period", {}).get("label", "")
    return f"{title or 'Feedlens'}: feedback report {label}".strip()


def report_email(
    report: Report, recipients: Sequence[str], title: str = ""
) -> EmailMultiAlternatives:
    """Return the message for an archived report: a plain-text note, the HTML page as the
    alternative body, and the PDF and CSV files attached."""
    period = report.parameters.get("period", {})
    text = (
        f"The Feedlens feedback report for {period.get('label', '')} "
        f"({period.get('time_zone', '')}) is attached as PDF and CSV. "
        "Open this message as HTML to read it here."
    )
    message = EmailMultiAlternatives(
        subject=report_subject(report, title),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(recipients),
    )
    files = available_files(report)
    if "html" in files:
        message.attach_alternative(report_file(report, "html").decode(), "text/html")
    for kind in ATTACHED:
        if kind in files:
            content_type = FILES[kind].content_type.split(";")[0]
            message.attach(file_name(report, kind), report_file(report, kind), content_type)
    return message


def send_report_email(report: Report, recipients: Sequence[str], title: str = "") -> None:
    """Send the report; raise EmailDelayed or EmailRefused with the server's answer."""
    try:
        report_email(report, recipients, title).send()
    except smtplib.SMTPResponseException as error:
        reason = f"the mail server answered {error.smtp_code}: {_text(error.smtp_error)}"
        raise (EmailDelayed if 400 <= error.smtp_code < 500 else EmailRefused)(reason) from error
    except smtplib.SMTPRecipientsRefused as error:
        raise EmailRefused(
            f"the mail server refused every recipient: {error.recipients}"
        ) from error
    except (smtplib.SMTPException, OSError) as error:
        # Connection refused, reset or timed out, or the server hung up: all pass.
        raise EmailDelayed(f"could not reach the mail server: {error}") from error


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else answer
