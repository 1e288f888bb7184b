"""Alerts: a change found in a week's feedback (alerts.detection), with the numbers and the
items behind it, raised once per event."""

from django.db import models

from ingestion.models import DataSource
from insights.models import Theme


class AlertKind(models.TextChoices):
    VOLUME_SPIKE = "volume_spike", "Volume spike"
    THEME_SPIKE = "theme_spike", "Theme spike"
    RISING = "rising", "Rising theme"
    NEW_THEME = "new_theme", "New theme"
    NEGATIVE_JUMP = "negative_jump", "Negative share jump"


class Alert(models.Model):
    """One change in one week: of a theme, or of a source's volume."""

    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    week = models.DateField(help_text="The Monday of the week it is about.")
    theme = models.ForeignKey(
        Theme, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    source = models.ForeignKey(
        DataSource, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    # What makes the event one: its kind, week and subject (detecting again finds it).
    key = models.CharField(max_length=100, unique=True)
    summary = models.TextField()
    figures = models.JSONField(default=dict)
    p_value = models.FloatField(null=True, blank=True)
    # A sample of the items behind it, most telling first.
    item_ids = models.JSONField(default=list)
    raised_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-week", "-raised_at", "-pk"]
        indexes = [models.Index(fields=["week"], name="alert_week")]

    def __str__(self) -> str:
        return self.summary
