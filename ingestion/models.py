"""Where feedback comes from (data sources), what it is (feedback items), and file imports."""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.ddl_references import Statement
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from feedlens.jobs import Job
from ingestion.ratings import RatingScale, detect_scale, format_rating


class ItemKind(models.TextChoices):
    REVIEW = "review", "Review"
    TICKET = "ticket", "Support ticket"
    SOCIAL_POST = "social_post", "Social post"


class SourceKind(models.TextChoices):
    UPLOAD = "upload", "File upload"
    WEBHOOK = "webhook", "Push webhook"
    REST = "rest", "JSON/REST endpoint"
    RSS = "rss", "RSS/Atom feed"
    IMAP = "imap", "IMAP mailbox"


# Kinds whose items are pushed or uploaded; Feedlens fetches every other kind on a schedule,
# through the connector registered for it in ingestion.connectors.
PUSHED_KINDS = (SourceKind.UPLOAD, SourceKind.WEBHOOK)
DEFAULT_SYNC_INTERVAL_MINUTES = 15
# A failing source is tried again after interval x 2^failures, and at most this long after.
MAX_SYNC_BACKOFF = timedelta(hours=6)


class SyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    OK = "ok", "OK"
    PARTIAL = "partial", "Imported with errors"
    FAILED = "failed", "Failed"


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DataSourceQuerySet(models.QuerySet["DataSource"]):
    def due_for_sync(self, now: datetime) -> "DataSourceQuerySet":
        """Enabled polling sources whose next sync time has come (or was never set).

        No index: a deployment has tens of sources, and the scan runs once a minute."""
        return (
            self.filter(enabled=True)
            .exclude(kind__in=PUSHED_KINDS)
            .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
        )

    def claim_for_enqueue(self, source_id: int, now: datetime) -> bool:
        """Push a due source's next sync a full interval ahead; return whether this caller did.

        Only the caller that moves it enqueues a sync, so two beat ticks (or two beats)
        never queue the same source twice; the sync sets the real next time when it ends."""
        due = self.due_for_sync(now).filter(pk=source_id)
        source = due.first()
        if source is None:
            return False
        later = now + timedelta(minutes=source.sync_interval_minutes)
        return bool(due.filter(next_sync_at=source.next_sync_at).update(next_sync_at=later))

    def claim_sync(self, source_id: int, now: datetime) -> bool:
        """Mark a source as syncing unless a sync of it is running; return whether claimed.

        A conditional UPDATE, so of two workers that start the same sync only one wins. A
        claim older than the task time limit belongs to a worker that died, and is taken."""
        stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
        free = Q(sync_started_at__isnull=True) | Q(sync_started_at__lt=stale)
        return bool(self.filter(free, pk=source_id).update(sync_started_at=now))

    def release_sync(self, source_id: int) -> None:
        self.filter(pk=source_id).update(sync_started_at=None)

    def widen_rating_range(self, source_id: int, ratings: list[float]) -> None:
        """Make the source's lowest and highest rating take in these, in one UPDATE so that
        concurrent imports into one source only ever widen the range."""
        if not ratings:
            return
        lowest, highest = min(ratings), max(ratings)
        self.filter(pk=source_id).update(
            rating_lowest=Least(Coalesce(F("rating_lowest"), Value(lowest)), Value(lowest)),
            rating_highest=Greatest(Coalesce(F("rating_highest"), Value(highest)), Value(highest)),
        )


DEFAULT_PROJECT_NAME = "Default project"


class Project(models.Model):
    """A product the company gets feedback about. Its sources' items are analysed together
    and apart from every other project's: themes are found per project, so two unrelated
    products never share a theme."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def default_project_id() -> int:
    """The project a source or theme belongs to when none is given: the first one made,
    made now where there is none (a workspace of one product needs no choosing)."""
    first = Project.objects.order_by("pk").first()
    if first is None:
        first = Project.objects.create(name=DEFAULT_PROJECT_NAME)
    return first.pk


class DataSource(models.Model):
    name = models.CharField(max_length=200, unique=True)
    project = models.ForeignKey(
        Project,
        on_delete=models.PROTECT,
        related_name="sources",
        default=default_project_id,
        help_text="The product this source's feedback is about; themes are found per project.",
    )
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
    # Polling connectors: where the next sync starts (its shape is the connector's own),
    # saved in the same transaction as the items fetched before it.
    sync_cursor = models.JSONField(default=dict, blank=True, editable=False)
    sync_interval_minutes = models.PositiveIntegerField(
        default=DEFAULT_SYNC_INTERVAL_MINUTES,
        validators=[MinValueValidator(1)],
        help_text="Minutes between two fetches of a polling source.",
    )
    next_sync_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set while a sync runs: the lock that keeps two syncs of one source apart.
    sync_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    failure_count = models.PositiveIntegerField(default=0, editable=False)
    last_sync_created = models.PositiveIntegerField(
        default=0, editable=False, help_text="Items the last sync added."
    )
    # What the ratings are out of (ingestion.ratings): set here, or else told by the lowest
    # and highest rating stored, which every store of items keeps up to date.
    rating_scale = models.CharField(
        max_length=10,
        choices=RatingScale.choices,
        blank=True,
        verbose_name="Rating scale",
        help_text="Empty: told by the ratings (any above 5: out of 10; a 0 among them: NPS).",
    )
    rating_lowest = models.FloatField(null=True, blank=True, editable=False)
    rating_highest = models.FloatField(null=True, blank=True, editable=False)
    # Ratings read as sentiment, which trains the source's sentiment classifier
    # (insights.pipeline.sentiment.ratings); empty: by the rating scale.
    rating_negative_max = models.FloatField(
        null=True,
        blank=True,
        verbose_name="Negative ratings up to",
        help_text="Empty: 2 on 1-5 stars, 4 on 1-10, 6 on 0-10 (NPS detractors).",
    )
    rating_positive_min = models.FloatField(
        null=True,
        blank=True,
        verbose_name="Positive ratings from",
        help_text="Empty: 4 on 1-5 stars, 7 on 1-10, 9 on 0-10 (NPS promoters). "
        "Ratings between are neutral.",
    )

    objects = DataSourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scale_of_ratings(self) -> RatingScale | None:
        """The scale set for the source, or else the one its ratings show."""
        if self.rating_scale:
            return RatingScale(self.rating_scale)
        return self.scale_told_by_ratings

    @property
    def scale_told_by_ratings(self) -> RatingScale | None:
        """The scale the lowest and highest rating stored show, whatever is set."""
        return detect_scale(self.rating_lowest, self.rating_highest)

    def format_rating(self, rating: float) -> str:
        return format_rating(rating, self.scale_of_ratings)

    @property
    def rating_scale_note(self) -> str:
        """What the source's ratings are out of and why ("" without ratings)."""
        if self.rating_scale:
            return f"{RatingScale(self.rating_scale).label}, as set"
        if self.rating_lowest is None or self.rating_highest is None:
            return ""
        seen = f"ratings {self.rating_lowest:g} to {self.rating_highest:g}"
        if scale := self.scale_told_by_ratings:
            return f"{scale.label}, told by the {seen}"
        return f"not known from the {seen}: set the scale on the source's page to read them"

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

    @property
    def is_polling(self) -> bool:
        return self.kind not in PUSHED_KINDS

    def record_sync_success(self, status: str, created: int, error: str = "") -> None:
        """Record a finished sync: reset the failures and schedule the next one an interval on."""
        self.failure_count = 0
        self.last_sync_created = created
        self.next_sync_at = timezone.now() + timedelta(minutes=self.sync_interval_minutes)
        self.save(update_fields=["failure_count", "last_sync_created", "next_sync_at"])
        self.record_sync(status, error)

    def record_sync_failure(self, error: str, created: int) -> None:
        """Record a failed sync and put the next try off: interval x 2^failures, capped."""
        self.failure_count += 1
        self.last_sync_created = created
        self.next_sync_at = timezone.now() + self.backoff_delay()
        self.save(update_fields=["failure_count", "last_sync_created", "next_sync_at"])
        self.record_sync(SyncStatus.PARTIAL if created else SyncStatus.FAILED, error)

    def backoff_delay(self) -> timedelta:
        interval = timedelta(minutes=self.sync_interval_minutes)
        # The exponent is capped too, so a long outage cannot overflow timedelta.
        return min(interval * 2 ** min(self.failure_count, 20), MAX_SYNC_BACKOFF)


class NewestFirstIndex(models.Index):
    """created_at DESC NULLS LAST, id DESC: the order every item list reads (Meta.ordering).
    SQLite cannot say NULLS LAST in an index, but a descending index there already puts
    NULLs last, so it gets the same index without the words."""

    def __init__(self, *, name: str) -> None:
        super().__init__(F("created_at").desc(nulls_last=True), F("id").desc(), name=name)

    def create_sql(
        self,
        model: type[models.Model],
        schema_editor: BaseDatabaseSchemaEditor,
        using: str = "",
        **kwargs: Any,
    ) -> Statement:
        if schema_editor.connection.vendor == "sqlite":
            plain = models.Index(fields=["-created_at", "-id"], name=self.name)
            return plain.create_sql(model, schema_editor, using, **kwargs)
        return super().create_sql(model, schema_editor, using, **kwargs)

    def deconstruct(self) -> tuple[str, tuple[()], dict[str, str]]:
        path, _, _ = super().deconstruct()
        return path, (), {"name": self.name}


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
            # Every item list reads items in this order (Meta.ordering), a page at a time:
            # in index order, instead of sorting every item (at 100,000 items the first page
            # of the feedback list took 205 ms without it, 19 ms with it).
            NewestFirstIndex(name="item_newest_first"),
            # The kind filter (insights.dashboards.filters.FeedbackFilters.condition) with its date
            # range, and the overview's count per kind (GROUP BY kind, read from the index).
            models.Index(fields=["kind", "created_at"], name="item_kind_created"),
            # The rating filter: a star range (3.5 <= rating < 4.5) or "no rating" (NULL).
            models.Index(fields=["rating"], name="item_rating"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}: {self.text[:60]}"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Waiting for a column mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(Job):
    """One file import: the file, how its columns map to items, and its progress."""

    # A job is run once its mapping is set: queued by the upload page, or run at once by the
    # command line and the tests, which set the mapping themselves.
    claimable_statuses = (ImportStatus.UPLOADED, ImportStatus.QUEUED)

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

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import of {self.original_name} into {self.source}"

    def progress(self) -> tuple[int, int]:
        return self.bytes_done, self.bytes_total

    def status_details(self) -> dict[str, Any]:
        return {
            "rows_done": self.rows_done,
            "items_created": self.items_created,
            "duplicates": self.duplicates,
            "rows_failed": self.rows_failed,
            # At most 50 on the page; the job keeps up to importers.MAX_REPORTED_ERRORS.
            "row_errors": self.row_errors[:50],
        }
