import pytest
from django.db.models import Count, Sum

from devtools.benchmark.page_data import THEMES, fill_page_data
from devtools.benchmark.report import SizeResult, sections_for
from devtools.benchmark.synthetic import SourceText
from ingestion.models import FeedbackItem
from insights.models import ItemEmbedding, ItemSentiment, Theme, ThemeAssignment

pytestmark = pytest.mark.django_db

LONG_REVIEW = "The seat was fine and the crew were kind, but the flight was late again. " * 5
SOURCES = [
    SourceText("airline_tweets", f"the flight was late again, number {n}") for n in range(50)
] + [SourceText("airline_reviews", f"{LONG_REVIEW} Number {n}.") for n in range(50)]


def test_it_stores_items_with_every_analysis_row_the_pages_read() -> None:
    seen: list[tuple[int, int]] = []
    fill_page_data(SOURCES, 1_200, "bench-model", seed=1, progress=lambda *p: seen.append(p))
    assert FeedbackItem.objects.count() == 1_200
    assert ItemEmbedding.objects.filter(embedding__model_name="bench-model").count() == 1_200
    assert ItemSentiment.objects.exclude(predicted="").count() == 1_200
    assigned = ThemeAssignment.objects.values("item").distinct().count()
    assert 0.9 * 1_200 < assigned < 1_200  # about 5% left without a theme
    assert Theme.objects.count() == THEMES
    assert Theme.objects.aggregate(total=Sum("size"))["total"] == ThemeAssignment.objects.count()
    # A long item is in two themes by halves of its text, with a sentiment toward each.
    long_items = ThemeAssignment.objects.filter(item__metadata__dataset="airline_reviews")
    in_two = long_items.values("item").annotate(n=Count("pk")).filter(n=2).count()
    assert in_two > 0.8 * long_items.values("item").distinct().count()
    assert not long_items.filter(unit_start__isnull=True).exclude(sentiment="").exists()
    assert not long_items.filter(unit_start__isnull=False, sentiment="").exists()
    short = ThemeAssignment.objects.exclude(item__metadata__dataset="airline_reviews")
    assert not short.exclude(unit_start__isnull=True).exists()
    biggest = Theme.objects.order_by("-size").first()
    assert biggest.size > 5 * Theme.objects.order_by("size").first().size  # long-tailed sizes
    assert len(biggest.representative_item_ids) == 5
    assert seen[-1] == (1_200, 1_200)
    reviews = FeedbackItem.objects.filter(kind="review")
    assert reviews.exists() and not reviews.filter(rating__isnull=True).exists()


def test_a_pages_only_result_reports_the_pages_and_says_how_they_were_made() -> None:
    result = SizeResult(100_000, None, None, pages={"/": 0.12})
    [section] = sections_for(result)
    assert section.rows == [{"page": "/", "median ms": 120.0}]
    assert any("synthetic analysis rows" in note for note in section.notes)
