"""What the analysis stores about feedback items."""

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from ingestion.models import FeedbackItem


class TextEmbedding(models.Model):
    """The embedding of one distinct text by one model, shared by every item with that text."""

    model_name = models.CharField(max_length=200)
    # ingestion.normalise.content_hash of the text alone: case and spacing do not count.
    text_hash = models.CharField(max_length=64)
    dimensions = models.PositiveIntegerField()
    # float32, little-endian, unit length.
    vector = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model_name", "text_hash"], name="one_embedding_per_text"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_name} embedding {self.text_hash[:12]}"

    def as_array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.vector), dtype="<f4")


class ItemEmbedding(models.Model):
    """Which embedding an item has; an item gets a new one when the model changes."""

    item = models.OneToOneField(
        FeedbackItem, primary_key=True, on_delete=models.CASCADE, related_name="embedding"
    )
    embedding = models.ForeignKey(TextEmbedding, on_delete=models.CASCADE, related_name="items")

    def __str__(self) -> str:
        return f"embedding of item {self.item_id}"


class ModelVersion(models.Model):
    """A model file that produced outputs, identified by name and sha256 digest.

    Every stored label, name and summary points here, so figures can be compared per model.
    """

    name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    first_used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "sha256"], name="one_row_per_model_file")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class ThemeStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"
    IGNORED = "ignored", "Ignored"
    # A re-cluster found nothing like it any more; kept so its history and edits survive.
    RETIRED = "retired", "No longer found"


class NameSource(models.TextChoices):
    LLM = "llm", "Named by the language model"
    KEYWORDS = "keywords", "Named from its keywords"
    PERSON = "person", "Named by a person"


class SummaryKind(models.TextChoices):
    NONE = "", "No summary"
    GENERATED = "generated", "Written by the language model"
    EXTRACTIVE = "extractive", "Top quotes (the generated summary was not supported)"


class Theme(models.Model):
    """A group of feedback items about one thing, kept across re-clustering."""

    name = models.CharField(max_length=200)
    name_source = models.CharField(
        max_length=20, choices=NameSource.choices, default=NameSource.KEYWORDS
    )
    keywords = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=20, choices=ThemeStatus.choices, default=ThemeStatus.ACTIVE
    )
    # The unit-length mean of its items' embeddings: float32, little-endian.
    centroid = models.BinaryField()
    embedding_model = models.CharField(max_length=200)
    size = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # The items nearest the centre, nearest first.
    representative_item_ids = models.JSONField(default=list, blank=True)
    # [{"text": sentence, "item_ids": [id, ...]}, ...]: each sentence with the items it cites.
    pain_summary = models.JSONField(default=list, blank=True)
    summary_kind = models.CharField(
        max_length=20, choices=SummaryKind.choices, default=SummaryKind.NONE, blank=True
    )
    summary_note = models.CharField(max_length=300, blank=True)
    name_model = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    summary_model = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prompt_version = models.CharField(max_length=40, blank=True)
    # The size when the name and summary were last written; describing again is due
    # when the theme has changed since.
    described_size = models.PositiveIntegerField(default=0)
    described_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_themes"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-size", "id"]

    def __str__(self) -> str:
        return self.name

    def centroid_array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.centroid), dtype="<f4")


class AssignmentMethod(models.TextChoices):
    CLUSTER = "cluster", "Clustering"
    NEAREST = "nearest", "Nearest theme"
    PERSON = "person", "Moved by a person"


class ThemeAssignment(models.Model):
    """Which theme an item belongs to; items without a theme have no row."""

    item = models.OneToOneField(
        FeedbackItem, primary_key=True, on_delete=models.CASCADE, related_name="theme_assignment"
    )
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="assignments")
    # Cosine between the item's embedding and the theme's centre when it was assigned.
    similarity = models.FloatField(default=0.0)
    method = models.CharField(max_length=20, choices=AssignmentMethod.choices)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Theme pages list a theme's items nearest first.
            models.Index(fields=["theme", "-similarity"]),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} in theme {self.theme_id}"


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", "Negative"
    NEUTRAL = "neutral", "Neutral"
    POSITIVE = "positive", "Positive"


class SentimentClassifier(models.Model):
    """What turns the language model's label scores into sentiment for one body of feedback:
    the calibration prior and a classifier on the embeddings, fitted on the customer's own
    items (the model's confident labels and people's corrections)."""

    llm_model = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    prompt_version = models.CharField(max_length=40)
    embedding_model = models.CharField(max_length=200)
    # Mean label distribution over unlabeled items, {label: p}; scores are divided by it.
    prior = models.JSONField(default=dict)
    # Logistic regression on the embeddings: {"classes", "coef", "intercept"}, with
    # "llm_weight" (the language model's weight when the two are summed) or "stack" (a
    # regression learned from corrections that combines them); empty when too few labels
    # were at hand. See insights.sentiment.
    classifier = models.JSONField(default=dict, blank=True)
    # Items scored by the language model when it was fitted: it is refitted as they grow.
    scored_items = models.PositiveIntegerField(default=0)
    pseudo_labels = models.PositiveIntegerField(default=0)
    corrections = models.PositiveIntegerField(default=0)
    # Accuracy on people's corrections held out from fitting (cross-validated); null when
    # there were too few corrections to tell.
    llm_accuracy = models.FloatField(null=True, blank=True)
    combined_accuracy = models.FloatField(null=True, blank=True)
    uses_classifier = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"sentiment classifier {self.pk} ({self.created_at:%Y-%m-%d %H:%M})"


def sentiment_label_is(label: str, path: str = "sentiment") -> models.Q:
    """Return the condition "this sentiment row's label is label" for a query: a person's
    correction if there is one, else the prediction (ItemSentiment.label, in SQL). path
    leads from the queried model to the ItemSentiment row."""
    return models.Q(**{f"{path}__effective_label": label})


class ItemSentiment(models.Model):
    """An item's sentiment: the language model's raw label scores, the prediction made from
    them, and a person's correction, which always wins."""

    item = models.OneToOneField(
        FeedbackItem, primary_key=True, on_delete=models.CASCADE, related_name="sentiment"
    )
    # The model's label probabilities before calibration, {label: p}; empty (and no model)
    # while the item is predicted from its embedding alone, until the language model gets
    # to it (it scores a limited number of items a run: see SENTIMENT_LLM_ITEMS_PER_RUN).
    llm_scores = models.JSONField(default=dict, blank=True)
    llm_model = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prompt_version = models.CharField(max_length=40, blank=True)
    predicted = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    probabilities = models.JSONField(default=dict, blank=True)
    classifier = models.ForeignKey(
        SentimentClassifier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    corrected = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    corrected_at = models.DateTimeField(null=True, blank=True)
    scored_at = models.DateTimeField(default=timezone.now)
    # The label in effect (the correction, else the prediction), kept by the database so that
    # dashboards count and filter by one indexed column instead of an OR over two. Read
    # `label` in Python (this column is only fresh after a reload); query this.
    effective_label = models.GeneratedField(
        expression=Coalesce(NullIf("corrected", models.Value("")), "predicted"),
        output_field=models.CharField(max_length=10),
        db_persist=True,
    )

    class Meta:
        indexes = [
            # Dashboards count and filter items by sentiment (sentiment_label_is).
            models.Index(fields=["effective_label"]),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id}: {self.label}"

    @property
    def label(self) -> str:
        return self.corrected or self.predicted


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class AnalysisRun(models.Model):
    """One pass of the analysis over stored feedback, with its progress for the UI to poll."""

    source = models.ForeignKey(
        "ingestion.DataSource", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recluster = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    stage = models.CharField(max_length=40, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # {stage: {"items": n, "seconds": s}} for each finished stage.
    stats = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"analysis run {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED)


class EvaluationLabel(models.Model):
    """A person's judgement of one item's analysis, given on the evaluation page: the true
    sentiment (which also corrects the item) and whether its theme is right. What the
    machine said at that moment is kept beside it, with the model that said it, so that
    accuracy can be told per model version."""

    item = models.ForeignKey(
        FeedbackItem, on_delete=models.CASCADE, related_name="evaluation_labels"
    )
    labelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices)
    predicted_sentiment = models.CharField(max_length=10, choices=Sentiment.choices)
    # "model file (sha256 prefix) / prompt version / classifier id" of the prediction.
    model_version = models.CharField(max_length=300)
    theme = models.ForeignKey(
        Theme, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # None: the item had no theme, or the person could not tell.
    theme_is_right = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"label of item {self.item_id}: {self.sentiment}"


class CorrectionKind(models.TextChoices):
    RENAME = "rename", "Renamed a theme"
    MERGE = "merge", "Merged a theme into another"
    MOVE = "move", "Moved an item to another theme"
    STATUS = "status", "Changed a theme's status"
    SENTIMENT = "sentiment", "Corrected an item's sentiment"


class Correction(models.Model):
    """One change a person made to the machine's output, with who and when: the history
    shown on theme and item pages. The change itself lives on the corrected rows (a person's
    name, assignment, status or sentiment), which re-clustering and re-scoring respect."""

    kind = models.CharField(max_length=20, choices=CorrectionKind.choices)
    theme = models.ForeignKey(
        Theme, null=True, blank=True, on_delete=models.CASCADE, related_name="corrections"
    )
    item = models.ForeignKey(
        FeedbackItem, null=True, blank=True, on_delete=models.CASCADE, related_name="corrections"
    )
    # The other theme of a merge (the one kept) or a move (where the item went).
    target_theme = models.ForeignKey(
        Theme, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    before = models.CharField(max_length=300, blank=True)
    after = models.CharField(max_length=300, blank=True)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    made_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-made_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.before} → {self.after}"


class CopyKind(models.TextChoices):
    RELEASE_NOTE = "release_note", "Release-note entry announcing a fix"
    HELP_ARTICLE = "help_article", "Help-centre / FAQ article"
    SUPPORT_REPLY = "support_reply", "Support reply template"
    PRODUCT_PAGE = "product_page", "Product-page description"
    CHANGELOG = "changelog", "Changelog line"


class CopyDraft(models.Model):
    """Product copy drafted by the local model from themes' summaries and quotes: a job row
    with progress while it is written, then an editable Markdown draft that cites its items."""

    kind = models.CharField(max_length=20, choices=CopyKind.choices)
    themes = models.ManyToManyField(Theme, related_name="copy_drafts")
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
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
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} draft {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED)


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
    # None selected: every source, the ones added later included.
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


class Report(models.Model):
    """A generated report, archived: the period and the settings it was made with, and the
    files themselves, so that opening it later gives the same bytes whatever the data became.

    The files live in the database: they are small (tens to hundreds of KB), the web app and
    the workers see them without a shared folder, and a report and its files are written in
    one transaction."""

    period_start = models.DateField()
    # The last day of the period, included.
    period_end = models.DateField()
    time_zone = models.CharField(max_length=64)
    # None: every source.
    sources = models.ManyToManyField("ingestion.DataSource", blank=True, related_name="+")
    # What it was made with: source names, formats, thresholds; see insights.reports.archive.
    parameters = models.JSONField(default=dict)
    # Generated on a worker (tens of seconds for months of 100,000 items): the page polls.
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    done = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
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
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
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

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED)
