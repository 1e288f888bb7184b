"""The daily counts behind the dashboards (insights.models.DailyItemCount and DailyThemeCount):
written from the items, their sentiment and their themes, and read grouped by the pages.

They are written again whole after each run stage that changes sentiment or themes
(rebuild_daily_counts); between runs, new items are counted as they are stored
(count_stored_items), and what people correct is counted again: the days of the items
they corrected, or the themes they merged (refresh_daily_counts, refresh_theme_counts).
Every write locks the sources whose days it writes, in id order, so that two writers never
both insert one day's rows.
"""

from collections.abc import Collection, Iterable, Iterator
from datetime import date, timedelta
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
from insights.dashboards.filters import start_of_day
from insights.models import DailyItemCount, DailyThemeCount, ThemeAssignment

# Rows written a statement.
BATCH_SIZE = 5000


def rebuild_daily_counts() -> None:
    """Count every item again, in one transaction: pages read the old counts until it ends."""
    with transaction.atomic():
        _lock_sources(DataSource.objects.all())
        DailyItemCount.objects.all().delete()
        DailyThemeCount.objects.all().delete()
        _write_counts(FeedbackItem.objects.all())


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
        for span in spans.order_by():
            _refresh_days(span["source"], span["first"], span["last"], bool(span["undated"]))


def count_stored_items(item_ids: Collection[int], **_signal: object) -> None:
    """Count new items (ingestion.signals.items_stored, in their transaction): their counts
    are added beside the rows of their days, which hold none of them yet (counting whole
    days again would make a long import's cost grow with the items stored before it). A
    day's counts may so be in several rows: they are read summed, and the next rebuild or
    refresh of the day writes them as one."""
    items = FeedbackItem.objects.filter(pk__in=list(item_ids))
    with transaction.atomic():
        _lock_sources(DataSource.objects.filter(pk__in=items.values("source")))
        _write_counts(items)


def refresh_theme_counts(theme_ids: Collection[int]) -> None:
    """Count again the items of the given themes (after a merge moved items between them):
    their rows of every day, in every source."""
    with transaction.atomic():
        _lock_sources(DataSource.objects.all())
        DailyThemeCount.objects.filter(theme__in=list(theme_ids)).delete()
        assignments = ThemeAssignment.objects.filter(theme__in=list(theme_ids))
        DailyThemeCount.objects.bulk_create(_theme_counts(assignments), batch_size=BATCH_SIZE)


def _refresh_days(source_id: int, first: date | None, last: date | None, undated: bool) -> None:
    """Count again the source's items of the days first to last, and those without a date."""
    days = Q(day__isnull=True) if undated else Q(pk__in=[])
    items = Q(created_at__isnull=True) if undated else Q(pk__in=[])
    if first is not None and last is not None:
        days |= Q(day__gte=first, day__lte=last)
        items |= Q(
            created_at__gte=start_of_day(first), created_at__lt=start_of_day(last + timedelta(1))
        )
    DailyItemCount.objects.filter(days, source_id=source_id).delete()
    DailyThemeCount.objects.filter(days, source_id=source_id).delete()
    _write_counts(FeedbackItem.objects.filter(items, source_id=source_id))


def _write_counts(items: QuerySet[FeedbackItem]) -> None:
    DailyItemCount.objects.bulk_create(_item_counts(items), batch_size=BATCH_SIZE)
    assignments = ThemeAssignment.objects.filter(item__in=items)
    DailyThemeCount.objects.bulk_create(_theme_counts(assignments), batch_size=BATCH_SIZE)


def _item_counts(items: QuerySet[FeedbackItem]) -> Iterator[DailyItemCount]:
    rows = _grouped(items.annotate(**_columns("")), ())
    for row in rows:
        yield DailyItemCount(**row)


def _theme_counts(assignments: QuerySet[ThemeAssignment]) -> Iterator[DailyThemeCount]:
    toward_theme = Coalesce(
        NullIf(F("sentiment"), Value("")),
        F("item__sentiment__effective_label"),
        Value(""),
        output_field=CharField(),
    )
    rows = _grouped(
        assignments.annotate(**_columns("item__"), toward=toward_theme), ("theme_id", "toward")
    )
    for row in rows:
        toward = row.pop("toward")
        yield DailyThemeCount(**row, toward_theme=toward)


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
