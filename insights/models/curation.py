"""What people tell the machine: corrections and accuracy labels."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from ingestion.models import FeedbackItem
from insights.models.analysis import Sentiment, Theme


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
    THEME_SENTIMENT = "theme-sentiment", "Corrected an item's sentiment toward a theme"


class Correction(models.Model):
    """One change a person made to the machine's output, with who and when, or a rename the
    machine made itself, with its reason: the history shown on theme and item pages. The
    change itself lives on the corrected rows (a person's name, assignment, status or
    sentiment), which re-clustering and re-scoring respect."""

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
    # Why the machine made the change (made_by empty): a rename when a theme's content moved.
    reason = models.CharField(max_length=300, blank=True)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    made_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-made_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.before} → {self.after}"
