"""What the product writes for people: copy drafts, reports and their schedules."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from feedlens.jobs import Job
from insights.models.analysis import ModelVersion, Theme


class CopyKind(models.TextChoices):
    RELEASE_NOTE = "release_note", "Release-note entry announcing a fix"
    HELP_ARTICLE = "help_article", "Help-centre / FAQ article"
    SUPPORT_REPLY = "support_reply", "Support reply template"
    PRODUCT_PAGE = "product_page", "Product-page description"
    CHANGELOG = "changelog", "Changelog line"


class CopyDraft(Job):
    """Product copy drafted by the local model from themes' summaries and quotes: a job row
    with progress while it is written, then an editable Markdown draft that cites its items."""

    kind = models.CharField(max_length=20, choices=CopyKind.choices)
    themes = models.ManyToManyField(Theme, related_name="copy_drafts")
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # Markdown; people edit it after it is written.
    text = models.TextField(blank=True)
    cited_item_ids = models.JSONField(default=list, blank=True)
    # The prompt(s) sent to the model, kept so that a draft can be explained and reproduced.
    prompt = models.TextField(blank=True)
    prompt_version = models.CharField(max_length=40, blank=True)
    llm_model = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} draft {self.pk}"

    def progress(self) -> tuple[int, int]:
        return self.done, self.total

    def status_details(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "cited_item_ids": self.cited_item_ids,
            "prompt": self.prompt,
            "prompt_version": self.prompt_version,
            "model": str(self.llm_model) if self.llm_model else "",
        }


class Weekday(models.IntegerChoices):
    # Cron's numbering (Sunday is 0), which the beat schedule is written in.
    MONDAY = 1, "Monday"
    TUESDAY = 2, "Tuesday"
    WEDNESDAY = 3, "Wednesday"
    THURSDAY = 4, "Thursday"
    FRIDAY = 5, "Friday"
    SATURDAY = 6, "Saturday"
    SUNDAY = 0, "Sunday"


class ReportSchedule(models.Model):
    """A weekly report sent by email: on a weekday at a time in a time zone, covering the
    last full week there. Beat runs it through its PeriodicTask (see insights.reports.schedules,
    which keeps the two in step)."""

    name = models.CharField(max_length=200)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    time = models.TimeField(help_text="When to send it, in the schedule's time zone.")
    time_zone = models.CharField(max_length=64, help_text="An IANA name, e.g. Europe/Paris.")
    # None: every project. A project's report covers its sources as they are each week.
    project = models.ForeignKey(
        "ingestion.Project",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Blank: every project.",
    )
    # None selected: every source (of the project), the ones added later included.
    sources = models.ManyToManyField("ingestion.DataSource", blank=True, related_name="+")
    recipients = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="report_schedule",
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Report(Job):
    """A generated report, archived: the period and the settings it was made with, and the
    files themselves, so that opening it later gives the same bytes whatever the data became.

    The files live in the database: they are small (tens to hundreds of KB), the web app and
    the workers see them without a shared folder, and a report and its files are written in
    one transaction."""

    period_start = models.DateField()
    # The last day of the period, included.
    period_end = models.DateField()
    time_zone = models.CharField(max_length=64)
    # None: every project.
    project = models.ForeignKey(
        "ingestion.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # None: every source (of the project).
    sources = models.ManyToManyField("ingestion.DataSource", blank=True, related_name="+")
    # What it was made with: source names, formats, thresholds; see insights.reports.archive.
    parameters = models.JSONField(default=dict)
    # Generated on a worker (tens of seconds for months of 100,000 items): the page polls.
    done = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveSmallIntegerField(default=0)
    html = models.BinaryField(blank=True, default=b"")
    themes_csv = models.BinaryField(blank=True, default=b"")
    items_csv = models.BinaryField(blank=True, default=b"")
    pdf = models.BinaryField(blank=True, default=b"")
    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Emailing a scheduled report: claimed by a conditional update, then marked sent, so a
    # task that runs twice sends once (insights.reports.schedules.send_scheduled_report).
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A schedule makes one report per period: the one a retried task emails.
            models.UniqueConstraint(
                fields=["schedule", "period_start", "period_end"],
                condition=models.Q(schedule__isnull=False),
                name="one_report_per_schedule_and_period",
            )
        ]

    def __str__(self) -> str:
        return f"report {self.pk} ({self.period_start} to {self.period_end})"

    def progress(self) -> tuple[int, int]:
        return self.done, self.total

    def failure_message(self, error: Exception) -> str:
        return f"{type(error).__name__}: {error}"
