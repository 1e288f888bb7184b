"""A small body of feedback over two weeks (2015-W07 and 2015-W08) with known report figures,
shared by the report tests. Times are in Europe/Paris, where the reports are made."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ingestion.models import DataSource, FeedbackItem
from insights.models import ItemSentiment, Theme, ThemeAssignment
from tests.factories import make_theme

PARIS = ZoneInfo("Europe/Paris")
W07_MONDAY = datetime(2015, 2, 9, 10, tzinfo=PARIS)
W08_MONDAY = datetime(2015, 2, 16, 10, tzinfo=PARIS)


@dataclass
class Feedback:
    store: DataSource
    desk: DataSource
    sync: Theme
    login: Theme
    budgets: Theme
    old: Theme
    corrected_item: FeedbackItem
    late_sunday_item: FeedbackItem
    next_monday_item: FeedbackItem
    sync_representative: FeedbackItem


def add_item(
    source: DataSource,
    text: str,
    when: datetime,
    sentiment: str = "",
    theme: Theme | None = None,
    corrected: str = "",
    similarity: float = 0.5,
    rating: float | None = None,
) -> FeedbackItem:
    item = FeedbackItem.objects.create(
        source=source,
        kind="review",
        text=text,
        content_hash=f"{text}|{when.isoformat()}",
        created_at=when,
        rating=rating,
    )
    if sentiment or corrected:
        ItemSentiment.objects.create(item=item, predicted=sentiment, corrected=corrected)
    if theme is not None:
        ThemeAssignment.objects.create(
            item=item, theme=theme, similarity=similarity, method="cluster"
        )
    return item


# Report figures need no theme centre.
NO_CENTRE: dict[str, object] = {"centroid": b"", "embedding_model": "test"}


def make_feedback() -> Feedback:
    """W07: 11 items (1 negative, 2 neutral, 7 positive, 1 not analysed).
    W08: 22 items (19 negative, 1 neutral, 2 positive); one more item falls on the Monday
    after, in Paris (still Sunday in UTC)."""
    store = DataSource.objects.create(name="App Store")
    desk = DataSource.objects.create(name="Help desk")
    long_ago = datetime(2015, 1, 5, tzinfo=PARIS)
    sync = make_theme("Sync fails", first_seen_at=long_ago, **NO_CENTRE, summary_kind="generated")
    login = make_theme(
        "Login broken", first_seen_at=datetime(2015, 2, 17, 9, tzinfo=PARIS), **NO_CENTRE
    )
    budgets = make_theme("Budgets", first_seen_at=long_ago, **NO_CENTRE, summary_kind="extractive")
    old = make_theme("Old export bug", first_seen_at=long_ago, **NO_CENTRE)
    for n in range(2):
        add_item(store, f"Sync was slow {n}", W07_MONDAY + timedelta(hours=n), "neutral", sync)
    for n in range(6):
        label = "negative" if n == 0 else "positive"
        add_item(desk, f"Budget note {n}", W07_MONDAY + timedelta(days=1, hours=n), label, budgets)
    for n in range(2):
        add_item(store, f"Export old {n}", W07_MONDAY + timedelta(days=2, hours=n), "positive", old)
    add_item(store, "Just a note", W07_MONDAY + timedelta(days=3))

    sync_items = [
        add_item(
            store,
            f"Sync fails on device {n}",
            W08_MONDAY + timedelta(hours=n),
            "negative",
            sync,
            similarity=0.5 + n / 100,
            rating=1,
        )
        for n in range(11)
    ]
    corrected = add_item(
        store,
        "Sync fails but I like the colours",
        W08_MONDAY + timedelta(days=1),
        "positive",
        sync,
        corrected="negative",
        similarity=0.1,
    )
    for n in range(3):
        add_item(
            desk, f"Cannot log in {n}", W08_MONDAY + timedelta(days=1, hours=n), "negative", login
        )
    for n in range(6):
        label = "negative" if n < 4 else "positive"
        add_item(
            desk, f"Budget trouble {n}", W08_MONDAY + timedelta(days=2, hours=n), label, budgets
        )
    late = add_item(store, "Late on Sunday", datetime(2015, 2, 22, 23, 30, tzinfo=PARIS), "neutral")
    next_monday = add_item(
        store, "Monday already", datetime(2015, 2, 23, 0, 30, tzinfo=PARIS), "positive"
    )
    # The representative is the least similar item: it must come first all the same.
    sync.representative_item_ids = [sync_items[0].pk]
    sync.pain_summary = [{"text": "Sync fails after the update.", "item_ids": [sync_items[0].pk]}]
    sync.save()
    budgets.pain_summary = [{"text": "Budget trouble 0", "item_ids": []}]
    budgets.save()
    return Feedback(
        store, desk, sync, login, budgets, old, corrected, late, next_monday, sync_items[0]
    )
