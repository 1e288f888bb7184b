"""Where feedback comes from (data sources), what it is (feedback items), and file imports."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class ItemKind(models.TextChoices):
    REVIEW = "review", "Review"
    TICKET = "ticket", "Support ticket"
    SOCIAL_POST = "social_post", "Social post"


class SourceKind(models.TextChoices):
    UPLOAD = "upload", "File upload"
    WEBHOOK = "webhook", "Push webhook"


class SyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    OK = "ok", "OK"
    PARTIAL = "partial", "Imported with errors"
    FAILED = "failed", "Failed"


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DataSource(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=SourceKind.choices, default=SourceKind.UPLOAD)
    item_kind = models.CharField(
        max_length=20,
        choices=ItemKind.choices,
        default=ItemKind.REVIEW,
        help_text="The kind given to items from this source that do not say their own.",
    )
    config = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    # Only a digest is stored: the token is shown once, when it is made.
    webhook_token_digest = models.CharField(max_length=64, blank=True, editable=False)
    webhook_token_hint = models.CharField(max_length=12, blank=True, editable=False)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_status = models.CharField(
        max_length=20, choices=SyncStatus.choices, default=SyncStatus.NEVER
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def rotate_webhook_token(self) -> str:
        """Replace the webhook token and return the new one; the old one stops working."""
        token = secrets.token_urlsafe(32)
        self.webhook_token_digest = _token_digest(token)
        self.webhook_token_hint = token[:6]
        self.save(update_fields=["webhook_token_digest", "webhook_token_hint"])
        return token

    def accepts_webhook_token(self, token: str) -> bool:
        if not self.webhook_token_digest or not token:
            return False
        return hmac.compare_digest(self.webhook_token_digest, _token_digest(token))

    def record_sync(self, status: str, error: str = "") -> None:
        self.last_sync_at = timezone.now()
        self.last_sync_status = status
        self.last_error = error
        self.save(update_fields=["last_sync_at", "last_sync_status", "last_error"])


class FeedbackItem(models.Model):
    source = models.ForeignKey(DataSource, on_delete=models.PROTECT, related_name="items")
    external_id = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=20, choices=ItemKind.choices)
    text = models.TextField()
    title = models.CharField(max_length=500, blank=True)
    author_handle = models.CharField(max_length=255, blank=True)
    rating = models.FloatField(null=True, blank=True)
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(null=True, blank=True, help_text="When the source says.")
    received_at = models.DateTimeField(default=timezone.now)
    metadata = models.JSONField(default=dict, blank=True)
    # sha256 of the normalised text and the timestamp: see ingestion.normalise.content_hash.
    content_hash = models.CharField(max_length=64)
    import_job = models.ForeignKey(
        "ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )

    class Meta:
        ordering = [F("created_at").desc(nulls_last=True), "-id"]
        constraints = [
            # An id the source gave is authoritative: the same id never makes a second item.
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="unique_external_id_per_source",
            ),
            # Without an id, the same text at the same time is the same item, from any source.
            models.UniqueConstraint(
                fields=["content_hash"],
                condition=Q(external_id=""),
                name="unique_content_without_external_id",
            ),
        ]
        indexes = [
            # Item lists and date filters on the dashboard and in reports.
            models.Index(fields=["source", "created_at"]),
            models.Index(fields=["created_at"]),
            # De-duplication looks items up by hash across sources.
            models.Index(fields=["content_hash"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}: {self.text[:60]}"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Waiting for a column mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """One file import: the file, how its columns map to items, and its progress."""

    source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    file_path = models.CharField(max_length=1000)
    original_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=10)
    encoding = models.CharField(max_length=40, default="auto")
    item_kind = models.CharField(max_length=20, choices=ItemKind.choices)
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    # Rows whose outcome is committed; a resumed import skips this many.
    rows_done = models.BigIntegerField(default=0)
    items_created = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rows_failed = models.BigIntegerField(default=0)
    row_errors = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import of {self.original_name} into {self.source}"

    @property
    def percent_done(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.bytes_total:
            return 0
        return min(99, int(100 * self.bytes_done / self.bytes_total))

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)
