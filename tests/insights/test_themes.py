"""Stored themes: found by clustering, kept across re-clustering, grown by new items."""

import re
from collections import Counter
from dataclasses import replace
from datetime import date
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from ingestion.demo.generator import generate_demo_feedback
from ingestion.demo.load import load_demo_feedback
from ingestion.models import DataSource, FeedbackItem
from insights.curation.corrections import correct_theme_sentiment
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.local_models import configured_embedder
from insights.models import AssignmentMethod, NameSource, Theme, ThemeAssignment, ThemeStatus
from insights.pipeline.embedding import ThemePoints, embed_pending
from insights.pipeline.themes import identity
from insights.pipeline.themes.clustering import NO_THEME, Clustering
from insights.pipeline.themes.identity import (
    LeftoverResult,
    assign_new_items,
    move_item,
    recluster,
    theme_leftovers,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def model() -> str:
    load_demo_feedback(
        generate_demo_feedback(seed=3, weeks=3, end=date(2026, 11, 1), items_per_week=120)
    )
    embed_pending(configured_embedder())
    return configured_embedder().name


def theme_of() -> dict[int, int]:
    """The specific theme of each item (the demo's are short: one each), not the broad
    theme it is in through it."""
    specific = ThemeAssignment.objects.exclude(method=AssignmentMethod.PARENT)
    return dict(specific.values_list("item_id", "theme_id"))


def test_it_stores_themes_with_sizes_and_dates(model: str) -> None:
    result = recluster(model, seed=1)
    assert result.themes >= 5
    assert result.created == result.themes and result.kept == 0
    assignments = theme_of()
    assert len(assignments) >= 0.9 * FeedbackItem.objects.count()
    members = Counter(ThemeAssignment.objects.values_list("theme_id", flat=True))
    for theme in Theme.objects.all():
        assert theme.size == members[theme.pk] > 0
        assert theme.first_seen_at <= theme.last_seen_at
        assert len(theme.centroid_array()) == 384


def test_identical_texts_share_a_theme(model: str) -> None:
    desk = DataSource.objects.get(name="Support tickets")
    for n, item in enumerate(FeedbackItem.objects.order_by("pk")[:40:8]):
        for copy in range(2):
            FeedbackItem.objects.create(
                source=desk,
                kind="ticket",
                text=item.text,
                external_id=f"copy-{n}-{copy}",
                content_hash=f"copy-{n}-{copy}",
            )
    embed_pending(configured_embedder())
    recluster(model, seed=1)
    assignments = theme_of()
    by_text: dict[str, list[int | None]] = {}
    for pk, text in FeedbackItem.objects.values_list("pk", "text"):
        by_text.setdefault(text, []).append(assignments.get(pk))
    repeated = [themes for themes in by_text.values() if len(themes) > 1]
    assert len(repeated) >= 3
    assert all(len(set(themes)) == 1 for themes in repeated)


def test_it_keeps_theme_ids_names_and_status_across_reclustering(model: str) -> None:
    recluster(model, seed=1)
    before = theme_of()
    biggest, second = Theme.objects.leaves().order_by("-size")[:2]
    Theme.objects.filter(pk=biggest.pk).update(name="Bank sync", name_source=NameSource.PERSON)
    Theme.objects.filter(pk=second.pk).update(status=ThemeStatus.RESOLVED)

    result = recluster(model, seed=2)

    after = theme_of()
    same = sum(after.get(pk) == theme for pk, theme in before.items())
    assert same >= 0.8 * len(before)
    assert result.kept >= 0.7 * result.themes
    biggest.refresh_from_db()
    second.refresh_from_db()
    assert (biggest.name, biggest.status) == ("Bank sync", ThemeStatus.ACTIVE)
    assert second.status == ThemeStatus.RESOLVED and second.size > 0


def test_an_item_a_person_moved_stays_after_reclustering(model: str) -> None:
    recluster(model, seed=1)
    first, other = Theme.objects.leaves().order_by("-size")[:2]
    item = ThemeAssignment.objects.filter(theme=first).first().item
    pat = User.objects.create_user("pat")
    move_item(item, other, pat)

    recluster(model, seed=2)

    specific = ThemeAssignment.objects.exclude(method=AssignmentMethod.PARENT)
    assignment = specific.get(item=item)
    assert (assignment.theme_id, assignment.method) == (other.pk, AssignmentMethod.PERSON)
    assert assignment.assigned_by == pat


def test_new_items_join_the_nearest_theme_without_reclustering(model: str) -> None:
    recluster(model, seed=1)
    themes_before = set(Theme.objects.values_list("pk", flat=True))
    source = DataSource.objects.get(name="App Store reviews")
    sync = FeedbackItem.objects.create(
        source=source,
        kind="review",
        text="My Chase account stopped syncing last week, balances are all wrong now.",
        content_hash="new-sync",
    )
    unrelated = FeedbackItem.objects.create(
        source=source,
        kind="review",
        text="Photosynthesis converts light energy into chemical energy in plants.",
        content_hash="new-unrelated",
    )
    embed_pending(configured_embedder())

    assert assign_new_items(model) == 1

    assignment = ThemeAssignment.objects.get(item=sync)
    assert assignment.method == AssignmentMethod.NEAREST
    neighbours = ThemeAssignment.objects.filter(
        item__text__icontains="sync", method=AssignmentMethod.CLUSTER
    ).values_list("theme_id", flat=True)
    assert assignment.theme_id == Counter(neighbours).most_common(1)[0][0]
    assert not ThemeAssignment.objects.filter(item=unrelated).exists()
    assert set(Theme.objects.values_list("pk", flat=True)) == themes_before
    assert assign_new_items(model) == 0


def test_a_recluster_leaves_no_item_the_next_run_would_place(
    model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clustering leaves out items by its own clusters' centres; the stored themes'
    differ (clusters merged, split), and those are what the next run compares with."""
    found_by_clustering = identity._discover

    def leaving_one_out(*args: Any) -> tuple[ThemePoints, Clustering]:
        points, clustering = found_by_clustering(*args)
        # The point nearest a centre: any stored theme near it would place it.
        nearest = int((points.vectors @ clustering.centroids.T).max(axis=1).argmax())
        labels = clustering.labels.copy()
        labels[points.item_ids == points.item_ids[nearest]] = NO_THEME
        return points, replace(clustering, labels=labels)

    monkeypatch.setattr(identity, "_discover", leaving_one_out)
    result = recluster(model, seed=1)

    unthemed = FeedbackItem.objects.filter(theme_assignments__isnull=True).count()
    assert result.unthemed == unthemed
    assert result.items_assigned + unthemed == FeedbackItem.objects.count()
    assert assign_new_items(model) == 0


LUGGAGE = [
    f"{opening} {problem} {ending}"
    for opening in (
        "Flew to Lisbon last week and",
        "On my flight home",
        "After a long connection in Frankfurt",
        "Travelling with the kids,",
        "Business trip to Oslo:",
        "Our honeymoon flight and",
    )
    for problem in (
        "the airline lost my checked suitcase at the baggage carousel.",
        "my luggage never arrived on the belt at arrivals.",
        "the bag I checked in went missing and nobody at the desk could trace it.",
        "my suitcase came off the plane broken and soaked.",
        "the airline sent my luggage to the wrong airport.",
    )
    for ending in ("Still waiting.", "Terrible service.")
]


def test_items_that_fit_no_theme_form_new_themes_and_the_old_ones_stay(model: str) -> None:
    recluster(model, seed=1)
    before = dict(Theme.objects.values_list("pk", "size"))
    source = DataSource.objects.get(name="App Store reviews")
    luggage = [
        FeedbackItem.objects.create(
            source=source, kind="review", text=text, content_hash=f"luggage-{n}"
        )
        for n, text in enumerate(LUGGAGE)
    ]
    embed_pending(configured_embedder())
    assert assign_new_items(model) < len(luggage) / 2  # they fit no theme of a budgeting app

    result = theme_leftovers(model, seed=1)

    assert result.themes >= 1 and result.unthemed >= len(luggage)
    new_themes = Theme.objects.exclude(pk__in=before)
    assert new_themes.count() == result.themes
    in_new = ThemeAssignment.objects.filter(item__in=luggage, theme__in=new_themes).count()
    assert in_new >= 0.8 * len(luggage)
    others = ThemeAssignment.objects.filter(theme__in=new_themes).exclude(item__in=luggage)
    assert others.count() <= result.assigned - in_new and others.count() < in_new / 4
    assert dict(Theme.objects.filter(pk__in=before).values_list("pk", "size")) == before
    assert f"formed {result.themes} new theme" in result.describe()
    again = theme_leftovers(model, seed=1)  # nothing left that forms a theme
    assert (again.themes, again.assigned) == (0, 0)
    assert LeftoverResult(unthemed=3, themes=0, assigned=0).describe() == (
        "3 items fit no theme; clustered among themselves, they form no theme yet."
    )


SEAT_PRAISE = (
    "The seat was wide and comfortable, with plenty of legroom even in economy class.",
    "My seat reclined nicely and the extra legroom made the long flight comfortable.",
    "Comfortable seats with good legroom, I could stretch my legs the whole way.",
    "The seats were roomy and well padded, best legroom I have had on a plane.",
    "Loved the comfortable seat and the generous legroom in the exit row.",
    "Seat comfort was excellent, wide seats and lots of space for my legs.",
)
LOST_BAGS = (
    "Then the airline lost my checked suitcase and nobody at the baggage desk could trace it.",
    "My luggage never arrived on the belt and it took nine days to get my bag back.",
    "They sent my suitcase to the wrong airport and the lost baggage office was useless.",
    "Our checked bags went missing at arrivals and the baggage claim staff had no idea.",
    "The bag I checked in was lost and I had to buy clothes while waiting for it.",
    "Lost luggage again: my suitcase did not arrive and the delayed baggage form got lost.",
)
CREW = (
    "The cabin crew were friendly and came round with water and snacks every hour.",
    "Flight attendants were polite and helpful, always smiling and quick to help.",
    "The crew looked after us well and answered every question with a smile.",
    "Friendly flight attendants made sure everyone had drinks and blankets.",
    "The cabin staff were kind and attentive throughout the whole journey.",
    "Really helpful crew who checked on the children and brought extra pillows.",
)
TRIPS = (
    "Flew from Lisbon to Toronto last month with my husband.",
    "Return trip from Oslo to New York over the Easter holidays.",
    "Business trip from Frankfurt to Singapore in March this year.",
    "Family holiday flight from Madrid to Mexico City in the summer.",
    "Long haul from London to Sydney with one stop in Dubai.",
    "Flew home from Tokyo to Paris after a conference in October.",
)
MIXED_REVIEWS = [
    f"{TRIPS[(n + 3 * (n // 6)) % 6]} {SEAT_PRAISE[n % 6]} {LOST_BAGS[(n + n // 6) % 6]} "
    f"{CREW[(n + 2 * (n // 6)) % 6]}"
    for n in range(30)
]


def themes_quoting(sentences: tuple[str, ...]) -> Counter[int]:
    """How many assignments of each theme quote one of these sentences."""
    return Counter(
        assignment.theme_id
        for assignment in ThemeAssignment.objects.select_related("item")
        if assignment.quoted(assignment.item.text) in sentences
    )


def test_a_long_review_joins_the_theme_of_each_thing_it_talks_about(
    model: str, admin_client: Client, admin_user: User
) -> None:
    source = DataSource.objects.create(name="Airline reviews")
    reviews = [
        FeedbackItem.objects.create(source=source, kind="review", text=text, content_hash=str(n))
        for n, text in enumerate(MIXED_REVIEWS)
    ]
    embed_pending(configured_embedder())

    result = recluster(model, seed=1)
    rebuild_daily_counts()  # as a run does after its themes

    assert result.in_several >= 0.8 * len(reviews)
    assert f"{result.in_several} long items are in several themes" in result.describe()
    (seat, _), *_ = themes_quoting(SEAT_PRAISE).most_common(1)
    (bags, quoting_bags), *_ = themes_quoting(LOST_BAGS).most_common(1)
    assert seat != bags and quoting_bags >= 0.8 * len(reviews)
    in_both = FeedbackItem.objects.filter(theme_assignments__theme=seat).filter(
        theme_assignments__theme=bags
    )
    assert in_both.count() >= 0.8 * len(reviews)
    assert Theme.objects.get(pk=bags).size == ThemeAssignment.objects.filter(theme=bags).count()
    # The theme's page quotes the sentence that put the review there, and the review's page
    # lists each of its themes with its sentence.
    page = admin_client.get(reverse("insights:theme_detail", args=[bags])).content.decode()
    quoted = [unescape(q) for q in re.findall(r'class="unit-quote"[^>]*>(.*?)</blockquote>', page)]
    assert len(quoted) >= 10 and sum(q in LOST_BAGS for q in quoted) >= 0.8 * len(quoted)
    review = in_both.first()
    assert review is not None
    page = admin_client.get(reverse("insights:item_detail", args=[review.pk])).content.decode()
    assert page.count('class="unit-quote"') == review.theme_assignments.count() >= 2

    # A person who corrects another's sentiment toward a theme sees it kept by a re-cluster
    # that quotes the same sentence.
    other = in_both.exclude(pk=review.pk).first()
    assert other is not None
    corrected = ThemeAssignment.objects.get(item=other, theme_id=bags)
    correct_theme_sentiment(corrected, "positive", admin_user)

    # A person who moves it puts it in one theme alone, and a re-cluster keeps it so.
    move_item(review, Theme.objects.get(pk=seat), None)
    recluster(model, seed=1)
    assert list(review.theme_assignments.values_list("theme_id", "method")) == [
        (seat, AssignmentMethod.PERSON)
    ]
    again = ThemeAssignment.objects.get(item=other, theme_id=bags)
    assert (again.unit_start, again.unit_end) == (corrected.unit_start, corrected.unit_end)
    assert (again.sentiment, again.sentiment_by_person) == ("positive", True)
    assert not ThemeAssignment.objects.filter(sentiment_by_person=True).exclude(pk=again.pk)
