"""The daily counts behind the dashboards (insights.models.DailyItemCount and DailyThemeCount):
written from the items, their sentiment and their themes, and read grouped by the pages.

They are written again whole after each run stage that changes sentiment or themes
(rebuild_daily_counts); between runs, new items are counted as they are stored
(count_stored_items), and what people correct is counted again: the days of the items
they corrected, or the themes they merged (refresh_daily_counts, refresh_theme_counts).
Every write locks the sources whose days it writes, in id order, so that two writers never
both insert one day's rows. Each is written per value of each segment field too (metadata
fields with few values: insights.segments), which each rebuild finds again.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import (
    CharField,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Floor, NullIf, TruncDate
from django.utils import timezone

from ingestion.models import DataSource, FeedbackItem
from insights.dashboards.filters import SEGMENT_SEPARATOR, metadata_value, start_of_day
from insights.models import (
    DailyItemCount,
    DailySegmentCount,
    DailyThemeCount,
    DailyThemeSegmentCount,
    ThemeAssignment,
)
from insights.segments import MAX_SEGMENT_VALUES, is_segment_value

# Rows written a statement.
BATCH_SIZE = 5000
# The latest items whose metadata say which fields there are to count by segment.
SEGMENT_SAMPLE_ITEMS = 5000
ITEM_TABLES = (DailyItemCount, DailySegmentCount)
THEME_TABLES = (DailyThemeCount, DailyThemeSegmentCount)


def rebuild_daily_counts() -> None:
    """Count every item again, in one transaction: pages read the old counts until it ends.
    The segment fields are found again (find_segment_fields)."""
    items = FeedbackItem.objects.all()
    fields = find_segment_fields(items)
    with transaction.atomic():
        _lock_sources(DataSource.objects.all())
        for table in (*ITEM_TABLES, *THEME_TABLES):
            table.objects.all().delete()
        _write_counts(items, fields)


def refresh_daily_counts(item_ids: Collection[int]) -> None:
    """Count again every item of the days (in their sources) the given items are of: after
    a person corrected their sentiment or their themes."""
    items = FeedbackItem.objects.filter(pk__in=list(item_ids))
    spans = items.values("source").annotate(
        first=Min(_day("created_at")),
        last=Max(_day("created_at")),
        undated=Count("pk", filter=Q(created_at__isnull=True)),
    )
    with transaction.atomic():
        _lock_sources(DataSource.objects.filter(pk__in=items.values("source")))
        fields = segment_fields()
        for span in spans.order_by():
            _refresh_days(span, fields)


def count_stored_items(item_ids: Collection[int], **_signal: object) -> None:
    """Count new items (ingestion.signals.items_stored, in their transaction): their counts
    are added beside the rows of their days, which hold none of them yet (counting whole
    days again would make a long import's cost grow with the items stored before it). A
    day's counts may so be in several rows: they are read summed, and the next rebuild or
    refresh of the day writes them as one."""
    items = FeedbackItem.objects.filter(pk__in=list(item_ids))
    with transaction.atomic():
        _lock_sources(DataSource.objects.filter(pk__in=items.values("source")))
        _write_counts(items, segment_fields())


def refresh_theme_counts(theme_ids: Collection[int]) -> None:
    """Count again the items of the given themes (after a merge moved items between them):
    their rows of every day, in every source."""
    with transaction.atomic():
        _lock_sources(DataSource.objects.all())
        fields = segment_fields()
        for table in THEME_TABLES:
            table.objects.filter(theme__in=list(theme_ids)).delete()
        _write_theme_counts(ThemeAssignment.objects.filter(theme__in=list(theme_ids)), fields)


def count_after_migrate(**_signal: object) -> None:
    """Count what an upgraded install stored before there were counts to keep (post_migrate):
    its items before the daily counts, or before the counts per segment, once."""
    if not FeedbackItem.objects.exists():
        return
    uncounted = not DailyItemCount.objects.exists()
    unsegmented = not DailySegmentCount.objects.exists()
    if uncounted or (unsegmented and find_segment_fields(FeedbackItem.objects.all())):
        rebuild_daily_counts()


def segment_fields() -> list[str]:
    """The metadata fields counted by segment: those the last rebuild found."""
    fields = DailySegmentCount.objects.order_by("field").values_list("field", flat=True)
    return list(fields.distinct())


def find_segment_fields(items: QuerySet[FeedbackItem]) -> list[str]:
    """The metadata fields worth counting by segment: those with a plain value (text, a
    number, true or false) in any of the latest SEGMENT_SAMPLE_ITEMS items that take at
    most MAX_SEGMENT_VALUES values among all the items (more: ids, times, free text)."""
    recent = items.order_by("-pk").values_list("metadata", flat=True)[:SEGMENT_SAMPLE_ITEMS]
    seen = {
        key
        for metadata in recent
        for key, value in (metadata or {}).items()
        if is_segment_value(value)
        # The segment filter writes a value as field=value.
        and SEGMENT_SEPARATOR not in key
    }
    return sorted(field for field in seen if _has_few_values(items, field))


def _has_few_values(items: QuerySet[FeedbackItem], field: str) -> bool:
    values = _with_segment_value(items, field, "").values("segment_value").distinct()
    return values.order_by()[: MAX_SEGMENT_VALUES + 1].count() <= MAX_SEGMENT_VALUES


def _refresh_days(span: Mapping[str, Any], fields: Sequence[str]) -> None:
    """Count again the source's items of the days first to last, and those without a date
    (span: the source, first, last and whether any is undated)."""
    first, last = span["first"], span["last"]
    days = Q(day__isnull=True) if span["undated"] else Q(pk__in=[])
    items = Q(created_at__isnull=True) if span["undated"] else Q(pk__in=[])
    if first is not None and last is not None:
        days |= Q(day__gte=first, day__lte=last)
        items |= Q(
            created_at__gte=start_of_day(first), created_at__lt=start_of_day(last + timedelta(1))
        )
    for table in (*ITEM_TABLES, *THEME_TABLES):
        table.objects.filter(days, source_id=span["source"]).delete()
    _write_counts(FeedbackItem.objects.filter(items, source_id=span["source"]), fields)


def _write_counts(items: QuerySet[FeedbackItem], fields: Sequence[str]) -> None:
    rows = items.annotate(**_columns(""))
    DailyItemCount.objects.bulk_create(
        (DailyItemCount(**row) for row in _grouped(rows, ())), batch_size=BATCH_SIZE
    )
    for field in fields:
        by_value = _grouped(_with_segment_value(rows, field, ""), ("segment_value",))
        DailySegmentCount.objects.bulk_create(
            (DailySegmentCount(**_segment(row), field=field) for row in by_value),
            batch_size=BATCH_SIZE,
        )
    _write_theme_counts(ThemeAssignment.objects.filter(item__in=items), fields)


def _write_theme_counts(assignments: QuerySet[ThemeAssignment], fields: Sequence[str]) -> None:
    toward_theme = Coalesce(
        NullIf(F("sentiment"), Value("")),
        F("item__sentiment__effective_label"),
        Value(""),
        output_field=CharField(),
    )
    rows = assignments.annotate(**_columns("item__"), toward_theme_of=toward_theme)
    theme = ("theme_id", "toward_theme_of")
    DailyThemeCount.objects.bulk_create(
        (DailyThemeCount(**_toward(row)) for row in _grouped(rows, theme)),
        batch_size=BATCH_SIZE,
    )
    for field in fields:
        by_value = _grouped(_with_segment_value(rows, field, "item__"), (*theme, "segment_value"))
        DailyThemeSegmentCount.objects.bulk_create(
            (DailyThemeSegmentCount(**_segment(_toward(row)), field=field) for row in by_value),
            batch_size=BATCH_SIZE,
        )


def _with_segment_value(rows: QuerySet[Any], field: str, item: str) -> QuerySet[Any]:
    """The rows whose item (the path to it, "" for the items themselves) has a value of the
    metadata field, with that value as segment_value."""
    valued = rows.annotate(segment_value=metadata_value(field, item))
    return valued.exclude(segment_value__isnull=True).exclude(segment_value="")


def _segment(row: dict[str, Any]) -> dict[str, Any]:
    return _renamed(row, "segment_value", "value")


def _toward(row: dict[str, Any]) -> dict[str, Any]:
    return _renamed(row, "toward_theme_of", "toward_theme")


def _renamed(row: dict[str, Any], name: str, as_name: str) -> dict[str, Any]:
    """The row with its column name called as_name (annotations may not take a field's)."""
    renamed = {key: value for key, value in row.items() if key != name}
    return {**renamed, as_name: row[name]}


def _columns(item: str) -> dict[str, Any]:
    """The counts' columns of the item a path leads to ("" for the items themselves)."""
    return {
        "day_of": _day(f"{item}created_at"),
        "source_of": F(f"{item}source_id"),
        "kind_of": F(f"{item}kind"),
        "point_of": Cast(Floor(F(f"{item}rating") + 0.5), IntegerField()),
        "label_of": Coalesce(
            F(f"{item}sentiment__effective_label"), Value(""), output_field=CharField()
        ),
    }


def _grouped(rows: QuerySet[Any], more: tuple[str, ...]) -> Iterable[dict[str, Any]]:
    """The rows counted by their columns (and the more named), as the counts' fields."""
    names = ("day_of", "source_of", "kind_of", "point_of", "label_of", *more)
    grouped = rows.order_by().values(*names).annotate(counted=Count("pk"))
    for row in grouped.iterator(chunk_size=BATCH_SIZE):
        yield {
            "day": row["day_of"],
            "source_id": row["source_of"],
            "kind": row["kind_of"],
            "rating_point": row["point_of"],
            "sentiment": row["label_of"],
            "items": row["counted"],
            **{name: row[name] for name in more},
        }


def _day(field: str) -> TruncDate:
    """The date of a datetime in the site's time zone, as the date filters cut days."""
    return TruncDate(field, tzinfo=timezone.get_current_timezone())


def _lock_sources(sources: QuerySet[DataSource]) -> None:
    """Lock the sources' rows, in id order (two writers never deadlock); not against key
    share locks, so items may go on being stored meanwhile (their counts wait)."""
    locking = sources.select_for_update(no_key=True).order_by("pk")
    list(locking.values_list("pk", flat=True))
