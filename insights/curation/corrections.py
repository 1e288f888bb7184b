"""People correcting the machine: rename a theme, merge two, mark one resolved or ignored,
move an item to another theme, correct an item's sentiment.

Each function makes its change in one transaction, with the dashboards' counts of what it
changed, and records a Correction (who, when, before, after), the history shown on theme
and item pages. The change itself lives on the
corrected rows, which re-clustering and re-scoring respect (see
insights.pipeline.themes.identity and insights.pipeline.sentiment.stage).
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q

from accounts.people import signed_in_person
from ingestion.models import FeedbackItem
from insights.dashboards.daily_counts import refresh_daily_counts, refresh_theme_counts
from insights.models import (
    AssignmentMethod,
    Correction,
    CorrectionKind,
    ItemSentiment,
    NameSource,
    Theme,
    ThemeAssignment,
    ThemeStatus,
)
from insights.pipeline.sentiment.stage import SentimentError, check_label, correct_sentiment
from insights.pipeline.themes.identity import (
    move_item,
    refresh_theme_stats,
    sync_parent_memberships,
)

# The statuses a person may give a theme ("retired" is the machine's).
PERSON_STATUSES = (ThemeStatus.ACTIVE, ThemeStatus.RESOLVED, ThemeStatus.IGNORED)

User = AbstractBaseUser | AnonymousUser | None


class CorrectionError(Exception):
    """A correction that cannot be made; the message tells the person why."""


def rename_theme(theme: Theme, name: str, user: User) -> Theme:
    """Give the theme a person's name, which describing and re-clustering keep; return it."""
    name = name.strip()
    if not name:
        raise CorrectionError("A theme needs a name.")
    with transaction.atomic():
        theme = _locked_theme(theme.pk)
        before = theme.name
        if name == before:
            raise CorrectionError("The theme already has this name.")
        theme.name, theme.name_source = name, NameSource.PERSON
        theme.save(update_fields=["name", "name_source", "updated_at"])
        _record(CorrectionKind.RENAME, user, theme=theme, before=before, after=name)
    return theme


def merge_themes(source: Theme, target: Theme, user: User) -> Theme:
    """Merge source into target: its items join target and it points there from now on
    (re-clustering never revives it); return target."""
    if source.pk == target.pk:
        raise CorrectionError("A theme cannot be merged into itself.")
    with transaction.atomic():
        # Locked in id order, so two merges of the same pair cannot deadlock.
        locked = {t.pk: t for t in _locked_themes([source.pk, target.pk])}
        source, target = locked[source.pk], locked[target.pk]
        _check_mergeable(source, target)
        moved = list(source.assignments.values_list("item_id", flat=True))
        _move_assignments(source, target)
        # Themes merged into source before now point to target: one hop to the live theme.
        Theme.objects.filter(merged_into=source).update(merged_into=target)
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        # Its items leave source's broad theme, if any, for target's.
        broad = sync_parent_memberships(moved)
        refresh_theme_stats([source.pk, target.pk, *broad])
        refresh_theme_counts([source.pk, target.pk, *broad])
        _record(
            CorrectionKind.MERGE,
            user,
            theme=source,
            target_theme=target,
            before=source.name,
            after=target.name,
        )
    target.refresh_from_db()
    return target


def _move_assignments(source: Theme, target: Theme) -> None:
    """Put the source theme's items in the target. An item in both (two of its sentences)
    keeps one assignment: a person's over the machine's, else the nearer."""
    shared = ThemeAssignment.objects.filter(item__in=source.assignments.values("item_id"))
    in_target = {row.item_id: row for row in shared.filter(theme=target)}
    for moved in shared.filter(theme=source, item_id__in=list(in_target)):
        kept = in_target[moved.item_id]
        (kept if _outranks(moved, kept) else moved).delete()
    ThemeAssignment.objects.filter(theme=source).update(theme=target)


def _outranks(first: ThemeAssignment, second: ThemeAssignment) -> bool:
    by_person = AssignmentMethod.PERSON
    return (first.method == by_person, first.similarity) > (
        second.method == by_person,
        second.similarity,
    )


def _check_mergeable(source: Theme, target: Theme) -> None:
    if source.merged_into_id:
        raise CorrectionError(f"“{source.name}” was already merged into another theme.")
    if not target.is_live:
        raise CorrectionError(f"“{target.name}” is no longer a theme to merge into.")
    if source.embedding_model != target.embedding_model:
        raise CorrectionError("These themes come from different embedding models.")
    if source.project_id != target.project_id:
        raise CorrectionError("These themes are about different projects: each keeps its own.")
    for theme in (source, target):
        _check_specific(theme, "merge those instead")


def _check_specific(theme: Theme, instead: str) -> None:
    """Refuse a broad theme: it holds its sub-themes' items, and they decide its members."""
    if Theme.objects.parents().filter(pk=theme.pk).exists():
        raise CorrectionError(f"“{theme.name}” is a broad theme holding sub-themes: {instead}.")


def set_theme_status(theme: Theme, status: str, user: User) -> Theme:
    """Mark the theme active, resolved or ignored; re-clustering keeps the mark; return it."""
    if status not in PERSON_STATUSES:
        raise CorrectionError(f"{status!r} is not a status a person can set.")
    with transaction.atomic():
        theme = _locked_theme(theme.pk)
        if theme.merged_into_id:
            raise CorrectionError("A merged theme has no status of its own.")
        before = theme.status
        if status == before:
            raise CorrectionError(f"The theme is {theme.get_status_display().lower()} already.")
        theme.status = status
        theme.save(update_fields=["status", "updated_at"])
        _record(CorrectionKind.STATUS, user, theme=theme, before=before, after=status)
    return theme


def move_item_to_theme(item: FeedbackItem, theme: Theme, user: User) -> ThemeAssignment:
    """Put the item in the theme, and in that theme alone, because a person said so
    (re-clustering keeps it there); return its assignment."""
    with transaction.atomic():
        theme = _locked_theme(theme.pk)
        if not theme.is_live:
            raise CorrectionError(f"“{theme.name}” is no longer a theme to move items to.")
        _check_specific(theme, "move the item into one of them")
        if theme.project_id != item.source.project_id:
            raise CorrectionError(
                f"“{theme.name}” is a theme of another project than this item's source."
            )
        specific = item.theme_assignments.exclude(method=AssignmentMethod.PARENT)
        previous = list(
            Theme.objects.filter(pk__in=specific.values("theme_id"))
            .only("id", "name")
            .order_by("name")
        )
        if [t.pk for t in previous] == [theme.pk]:
            raise CorrectionError(f"The item is in “{theme.name}” already.")
        assignment = move_item(item, theme, signed_in_person(user))
        refresh_daily_counts([item.pk])
        _record(
            CorrectionKind.MOVE,
            user,
            item=item,
            theme=previous[0] if previous else None,
            target_theme=theme,
            before=", ".join(t.name for t in previous)[:300],
            after=theme.name,
        )
    return assignment


def correct_item_sentiment(item: FeedbackItem, label: str, user: User) -> ItemSentiment:
    """Record a person's sentiment for the item, which wins over predictions and trains
    the classifier; return the item's sentiment row."""
    with transaction.atomic():
        # Locked now, so "before" is what this correction replaced.
        before = ItemSentiment.objects.select_for_update().filter(item=item).first()
        try:
            sentiment = correct_sentiment(item, label, signed_in_person(user))
        except SentimentError as error:
            raise CorrectionError(str(error)) from error
        refresh_daily_counts([item.pk])
        _record(
            CorrectionKind.SENTIMENT,
            user,
            item=item,
            before=before.label if before else "",
            after=label,
        )
    return sentiment


def correct_theme_sentiment(assignment: ThemeAssignment, label: str, user: User) -> ThemeAssignment:
    """Record a person's sentiment for an item toward one theme it is in by a sentence (a
    long item's): theme counts use it, and the machine's reading of the sentence never
    replaces it; return the assignment."""
    try:
        check_label(label)
    except SentimentError as error:
        raise CorrectionError(str(error)) from error
    if assignment.unit_start is None:
        raise CorrectionError(
            "This item is in the theme as a whole: correct its own sentiment instead."
        )
    with transaction.atomic():
        locked = ThemeAssignment.objects.select_for_update().get(pk=assignment.pk)
        before = locked.sentiment or _item_label(locked.item_id)
        locked.sentiment, locked.sentiment_by_person = label, True
        locked.save(update_fields=["sentiment", "sentiment_by_person"])
        # Its broad theme, if any, reads the item as its sub-theme does.
        sync_parent_memberships([locked.item_id])
        refresh_daily_counts([locked.item_id])
        _record(
            CorrectionKind.THEME_SENTIMENT,
            user,
            item_id=locked.item_id,
            theme_id=locked.theme_id,
            before=before,
            after=label,
        )
    return locked


def _item_label(item_id: int) -> str:
    sentiment = ItemSentiment.objects.filter(item_id=item_id).first()
    return sentiment.label if sentiment else ""


def theme_history(theme: Theme, limit: int) -> list[Correction]:
    """Return the latest limit corrections made to the theme or merging another into it,
    latest first."""
    return list(
        Correction.objects.filter(Q(theme=theme) | Q(target_theme=theme)).select_related(
            "made_by", "theme", "target_theme", "item"
        )[:limit]
    )


def _locked_theme(theme_id: int) -> Theme:
    return Theme.objects.select_for_update().get(pk=theme_id)


def _locked_themes(theme_ids: list[int]) -> list[Theme]:
    return list(Theme.objects.select_for_update().filter(pk__in=theme_ids).order_by("pk"))


def _record(kind: str, user: User, **fields: object) -> Correction:
    return Correction.objects.create(kind=kind, made_by=signed_in_person(user), **fields)
