"""What the analysis stores about feedback items."""

import numpy as np
from django.db import models
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
