"""What the analysis stores: embeddings, themes, sentiment, the models that made them and
the runs."""

from typing import Any, ClassVar

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import QuerySet
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

import insights.models.sentiment_labels as labels
from feedlens.jobs import OPEN, Job
from ingestion.models import DataSource, FeedbackItem, Project, default_project_id
from insights.models.querysets import ThemeQuerySet


def decode_vector(raw: bytes | memoryview) -> np.ndarray:
    """A stored vector (float32, little-endian) as an array."""
    return np.frombuffer(bytes(raw), dtype="<f4")


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
        return decode_vector(self.vector)


class ItemEmbedding(models.Model):
    """Which embedding an item has; an item gets a new one when the model changes."""

    item = models.OneToOneField(
        FeedbackItem, primary_key=True, on_delete=models.CASCADE, related_name="embedding"
    )
    embedding = models.ForeignKey(TextEmbedding, on_delete=models.CASCADE, related_name="items")

    def __str__(self) -> str:
        return f"embedding of item {self.item_id}"


class UnitEmbedding(models.Model):
    """The embedding of one unit of a long item (insights.pipeline.units): a review that
    covers the seat, the staff and a lost bag is themed sentence by sentence, so that it
    joins each theme it speaks to. A long item has at least one (a long text may be one
    sentence); a short item has none, it is themed by its ItemEmbedding."""

    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="units")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    embedding = models.ForeignKey(TextEmbedding, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "start"], name="one_embedding_per_unit")
        ]

    def __str__(self) -> str:
        return f"embedding of item {self.item_id} [{self.start}:{self.end}]"


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
    CHOSEN = "chosen", "Chosen by the language model from the theme's phrases"
    LLM = "llm", "Written by the language model"
    KEYWORDS = "keywords", "Named from its keywords"
    PERSON = "person", "Named by a person"


class SummaryKind(models.TextChoices):
    NONE = "", "No summary"
    GENERATED = "generated", "Written by the language model"
    EXTRACTIVE = "extractive", "Top quotes (the generated summary was not supported)"


class Theme(models.Model):
    """A group of feedback items about one thing, kept across re-clustering."""

    # A live theme has one of these statuses and was not merged into another (is_live,
    # Theme.objects.live()); the others are kept only for their history.
    LIVE_STATUSES: ClassVar[tuple[str, ...]] = (
        ThemeStatus.ACTIVE,
        ThemeStatus.RESOLVED,
        ThemeStatus.IGNORED,
    )

    # Themes are found among one project's items (ingestion.models.Project).
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="themes", default=default_project_id
    )
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
    # Its parts' centres, float32 rows (see insights.pipeline.themes.clustering.Clustering).
    part_centroids = models.BinaryField(default=b"", blank=True)
    embedding_model = models.CharField(max_length=200)
    size = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # The items nearest the centre, nearest first.
    representative_item_ids = models.JSONField(default=list, blank=True)
    # The pain-point card (insights.pipeline.describing.cards): facets, figures, sentences.
    card = models.JSONField(default=dict, blank=True)
    # [{"text": sentence, "item_ids": [id, ...]}, ...]: each sentence with the items it cites.
    pain_summary = models.JSONField(default=list, blank=True)
    summary_kind = models.CharField(
        max_length=20, choices=SummaryKind.choices, default=SummaryKind.NONE, blank=True
    )
    summary_note = models.CharField(max_length=300, blank=True)
    # The model, prompt version and prompt text each was last written with: a theme is
    # described again when the model or a prompt version changes (describe.is_due).
    name_model = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name_prompt_version = models.CharField(max_length=40, blank=True)
    name_prompt = models.TextField(blank=True)
    summary_model = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    summary_prompt_version = models.CharField(max_length=40, blank=True)
    summary_prompt = models.TextField(blank=True)  # its lines' prompts, PROMPT_SEPARATOR between
    # The size when the name and summary were last written; describing again is due
    # when the theme has changed since.
    described_size = models.PositiveIntegerField(default=0)
    described_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_themes"
    )
    # The broader theme this one is a part of: one too broad to mean something is kept as
    # the parent of the sub-themes it splits into (insights.pipeline.themes.clustering). A
    # parent holds every item of its children (identity.sync_parent_memberships); new items
    # join the children, and lists rank the themes without children (Theme.objects.leaves).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ThemeQuerySet.as_manager()

    class Meta:
        ordering = ["-size", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        """Return whether re-clusters may continue the theme and items may join it."""
        return self.merged_into_id is None and self.status in self.LIVE_STATUSES

    def centroid_array(self) -> np.ndarray:
        return decode_vector(self.centroid)

    def part_centroid_arrays(self) -> np.ndarray:
        """The centres of the clusters the theme is made of, one row each (its own centre
        where it was never split into parts): new items join the theme of the nearest."""
        centre = self.centroid_array()
        if not self.part_centroids or not len(centre):
            return centre[None, :]
        return decode_vector(self.part_centroids).reshape(-1, len(centre))


class Sentiment(models.TextChoices):
    """The stored labels, as the registry in sentiment_labels names them."""

    NEGATIVE = labels.NEGATIVE.value, labels.NEGATIVE.name
    NEUTRAL = labels.NEUTRAL.value, labels.NEUTRAL.name
    POSITIVE = labels.POSITIVE.value, labels.POSITIVE.name


class AssignmentMethod(models.TextChoices):
    CLUSTER = "cluster", "Clustering"
    NEAREST = "nearest", "Nearest theme"
    PERSON = "person", "Moved by a person"
    # In a broad theme because it is in one of its sub-themes (Theme.parent): kept in step
    # with those by identity.sync_parent_memberships, a copy of the nearest sub-theme's
    # assignment (its span, sentiment and similarity, which is to that sub-theme's centre).
    PARENT = "parent", "Through a sub-theme"


class ThemeAssignment(models.Model):
    """That an item belongs to a theme. A long item belongs to every theme one of its units
    (insights.pipeline.units) was put in, a short one to at most one; items without a theme
    have no row."""

    item = models.ForeignKey(
        FeedbackItem, on_delete=models.CASCADE, related_name="theme_assignments"
    )
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="assignments")
    # Cosine between the theme's centre and the item's embedding (or its unit's) when it
    # was assigned.
    similarity = models.FloatField(default=0.0)
    # The span of the item's text that put it in the theme, its unit nearest the theme's
    # centre: what quotes the item for the theme. Null: the whole text.
    unit_start = models.PositiveIntegerField(null=True, blank=True)
    unit_end = models.PositiveIntegerField(null=True, blank=True)
    # The item's sentiment toward the theme: what the language model reads in the unit
    # quoted, calibrated as the item's own scores are (sentiment.stage.read_theme_sentiments),
    # so that a review praising the staff and blaming a delay counts as positive in one
    # theme and negative in the other. Blank where the item is in the theme whole or its
    # unit is not read yet: the item's own label counts (theme_sentiment_label_is).
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    # A person set the sentiment toward the theme: the machine leaves it, a re-cluster that
    # quotes the same unit keeps it.
    sentiment_by_person = models.BooleanField(default=False)
    method = models.CharField(max_length=20, choices=AssignmentMethod.choices)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "theme"], name="one_assignment_per_theme")
        ]
        indexes = [
            # Theme pages list a theme's items nearest first.
            models.Index(fields=["theme", "-similarity"], name="assignment_theme_nearest"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} in theme {self.theme_id}"

    def quoted(self, text: str) -> str:
        """The part of the item's text (given) that puts it in the theme."""
        return quoted_part(text, self.unit_start, self.unit_end)


def quoted_part(text: str, unit_start: int | None, unit_end: int | None) -> str:
    """The part of an item's text an assignment quotes: its unit, else the whole text."""
    if unit_start is None or unit_end is None:
        return text
    return text[unit_start:unit_end]


def listed_items(items: QuerySet[FeedbackItem]) -> QuerySet[FeedbackItem]:
    """The items with what a list of them shows of each: its source and its sentiment,
    without the sentiment's feature logits (3 KB an item that no page shows)."""
    return items.select_related("source", "sentiment").defer("sentiment__llm_features")


def themes_of_items() -> models.Prefetch:
    """What a list of items prefetches to show each item's themes: item.theme_memberships,
    its assignments with their themes, nearest first; not those to a broad theme through one
    of its sub-themes (the sub-theme says more)."""
    memberships = ThemeAssignment.objects.exclude(method=AssignmentMethod.PARENT)
    return models.Prefetch(
        "theme_assignments",
        queryset=memberships.select_related("theme").order_by("-similarity"),
        to_attr="theme_memberships",
    )


class Calibration(models.TextChoices):
    RAW = "raw", "none (the model's raw scores)"
    MEAN = "mean", "divided by the source's mean scores"
    CONTENT_FREE = "content-free", "divided by the scores of an empty text"


class SentimentClassifier(models.Model):
    """What turns the language model's label scores into sentiment for one source: the
    calibration prior and a classifier on the embeddings, fitted on the source's own items
    (their star ratings, people's corrections and the model's confident labels). Each source
    is judged on its own terms: no other source's mix or labels reach it."""

    source = models.ForeignKey(
        DataSource, null=True, on_delete=models.CASCADE, related_name="sentiment_classifiers"
    )  # null: fitted before classifiers were per source (never used again)
    llm_model = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    prompt_version = models.CharField(max_length=40)
    embedding_model = models.CharField(max_length=200)
    # The label distribution scores are divided by, {label: p} (see calibration).
    prior = models.JSONField(default=dict)
    calibration = models.CharField(
        max_length=20, choices=Calibration.choices, default=Calibration.MEAN
    )
    # Logistic regression on the embeddings: {"classes", "coef", "intercept"}, with
    # "llm_weight" (the language model's weight when the two are summed) or "stack" (a
    # regression learned from corrections that combines them); empty when too few labels
    # were at hand. See insights.pipeline.sentiment.stage.
    classifier = models.JSONField(default=dict, blank=True)
    # Items scored by the language model when it was fitted: it is refitted as they grow.
    scored_items = models.PositiveIntegerField(default=0)
    pseudo_labels = models.PositiveIntegerField(default=0)
    corrections = models.PositiveIntegerField(default=0)
    # Items whose star rating trained it (insights.pipeline.sentiment.ratings).
    ratings = models.PositiveIntegerField(default=0)
    # Accuracy on people's corrections and star ratings when fitted: the classifier's part
    # cross-validated, the calibration chosen on the same labels; null with too few labels.
    llm_accuracy = models.FloatField(null=True, blank=True)
    combined_accuracy = models.FloatField(null=True, blank=True)
    uses_classifier = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"sentiment classifier {self.pk} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def label_accuracy(self) -> float | None:
        """The accuracy of what predicts on the source's labels at fitting (None: too few
        labels to tell)."""
        return self.combined_accuracy if self.uses_classifier else self.llm_accuracy


class ItemSentiment(models.Model):
    """An item's sentiment: the language model's raw label scores, the prediction made from
    them, and a person's correction, which always wins."""

    item = models.OneToOneField(
        FeedbackItem, primary_key=True, on_delete=models.CASCADE, related_name="sentiment"
    )
    # The model's label probabilities before calibration, {label: p}; empty (and no model)
    # while the item is predicted from its embedding alone, until the language model gets
    # to it (it makes a limited number of calls a run: see SENTIMENT_LLM_CALLS_PER_RUN).
    llm_scores = models.JSONField(default=dict, blank=True)
    # A long item's units (insights.pipeline.units), each scored on its own; llm_scores
    # combines them with the whole text's: [[start, end, {label: p}], ...] (empty for a
    # one-unit item).
    unit_scores = models.JSONField(default=list, blank=True)
    # The model's feature logits at its reading of the whole text (llm.interfaces
    # .LabelReading), float16 bytes: what the classifier learns from beside the embedding.
    # Empty where the model gives none.
    llm_features = models.BinaryField(default=b"", blank=True)
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


class AnalysisRun(Job):
    """One pass of the analysis over stored feedback, with its progress for the UI to poll.

    Stages done in chunks (RunChunk) hand them to workers and wait for them: the run then
    holds no lease (feedlens.jobs.park_job), its chunks hold theirs, and the worker that
    finishes the last one hands the run on to its next stage (insights.pipeline.run)."""

    waiting_on_others = models.Q(chunks_left__gt=0)

    source = models.ForeignKey(
        "ingestion.DataSource", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recluster = models.BooleanField(default=False)
    stage = models.CharField(max_length=40, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # {stage: {"items": n, "seconds": s, "note": what else it did (optional)}} for each
    # finished stage.
    stats = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # The chunks of the current stage not done yet: the stage is over at 0.
    chunks_left = models.PositiveIntegerField(default=0)
    stage_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One run open at a time, whatever starts it (a page, the command, beat): two
            # runs would cluster the same items at once and collide on their themes. A
            # unique index over a constant, for the open rows only: a conditional insert.
            models.UniqueConstraint(
                models.Value(True),
                condition=models.Q(status__in=OPEN),
                name="one_open_analysis_run",
            )
        ]

    def __str__(self) -> str:
        return f"analysis run {self.pk} ({self.status})"

    def progress(self) -> tuple[int, int]:
        return self.done, self.total

    def failure_message(self, error: Exception) -> str:
        return f"{self.stage}: {error}"

    def status_details(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "stats": self.stats,
            "stage_rows": [
                {
                    "stage": stage,
                    "items": figures["items"],
                    "seconds": figures["seconds"],
                    "note": figures.get("note", ""),
                }
                for stage, figures in self.stats.items()
            ],
        }


class DescribingCorpus(models.Model):
    """What describing one level of a project's themes needs to know about all of them,
    computed once (c-TF-IDF over their texts, how the project's fields spread, a sample of
    every live theme's items) and read by each theme's describing task on any worker
    (insights.pipeline.describing.corpus). Dropped once its themes are described."""

    run = models.ForeignKey(
        AnalysisRun,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="describing_corpora",
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    embedding_model = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    # The themes described with it, and every theme of its level (what they are told from).
    described = models.JSONField(default=list)
    level = models.JSONField(default=list)
    # Of each described theme, by its id: {"keywords": [...], "phrases": [[text, score, items]]}.
    wording = models.JSONField(default=dict)
    # The sampled items of each live theme (Neighbourhood): {theme id: [[item id, unit start]]}.
    neighbourhood = models.JSONField(default=dict)
    baseline = models.JSONField(default=dict)  # FieldBaseline: {"values": {}, "totals": {}}
    as_of = models.DateField(null=True, blank=True)
    # Every live theme's name in the project when describing began, by its id.
    names = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"describing corpus {self.pk} of project {self.project_id}"


class RunChunk(Job):
    """A share of one stage of an analysis run: the items (or, describing, the themes) it
    works on, for any worker that reads the stage's queue. A chunk whose worker died is
    handed out again under its own lease (feedlens.jobs.requeue_expired); its work skips
    what is done."""

    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="chunks")
    stage = models.CharField(max_length=40)
    ids = models.JSONField(default=list)  # of its items, or of its themes for describing
    items = models.PositiveIntegerField(default=0)  # of them, worked on by this chunk
    # The Celery worker (its host name) that claimed it last: the Analysis page's worker list.
    worker = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["run", "stage", "status"])]

    def __str__(self) -> str:
        return f"{self.stage} chunk {self.pk} of analysis run {self.run_id}"

    def progress(self) -> tuple[int, int]:
        return self.items, len(self.ids)

    def failure_message(self, error: Exception) -> str:
        return f"{self.stage}: {error}"  # what its run says, as when a stage fails

    @property
    def works_on(self) -> str:
        """What its ids are, for people: "themes" or "items"."""
        return "themes" if self.stage == "describing" else "items"
