"""Rating scales: told by the ratings a source stores (or set on the source), shown on the
source's scale, filtered in its units, and read as sentiment on it."""

from pathlib import Path

import pytest
from django.urls import reverse

from accounts import roles
from ingestion.models import DataSource, FeedbackItem
from ingestion.ratings import RatingScale, detect_scale, format_rating
from insights.pipeline.sentiment.stage import rating_bounds
from tests.ingestion.test_importers import import_file, make_source, review_rows, write_csv
from tests.insights.test_theme_pages import add_item, person

pytestmark = pytest.mark.django_db


def test_the_scale_is_told_by_the_lowest_and_highest_rating() -> None:
    assert detect_scale(1, 5) == detect_scale(2, 4) == RatingScale.STARS
    assert detect_scale(1, 10) == detect_scale(3, 8) == RatingScale.TEN
    assert detect_scale(0, 10) == detect_scale(0, 7) == RatingScale.NPS
    assert detect_scale(1, 3) is None  # a 1-3 scale, or only bad reviews so far
    assert detect_scale(0, 1) is None  # thumbs
    assert detect_scale(None, None) is None
    assert format_rating(4, RatingScale.STARS) == "4★"
    assert format_rating(8, RatingScale.TEN) == format_rating(8, RatingScale.NPS) == "8/10"
    assert format_rating(2.5, None) == "rated 2.5"


def test_an_import_tells_the_scale_and_later_imports_widen_it(tmp_path: Path) -> None:
    source = make_source()
    rows = review_rows(4)  # stars 1 to 4
    import_file(write_csv(tmp_path / "first.csv", rows), source=source)
    source.refresh_from_db()
    assert (source.rating_lowest, source.rating_highest) == (1.0, 4.0)
    assert source.scale_of_ratings == RatingScale.STARS
    assert source.rating_scale_note == "1-5 stars, told by the ratings 1 to 4"

    later = [{**row, "review_id": f"later-{n}", "stars": 9} for n, row in enumerate(rows)]
    import_file(write_csv(tmp_path / "later.csv", later), source=source)
    source.refresh_from_db()
    assert (source.rating_lowest, source.rating_highest) == (1.0, 9.0)
    assert source.scale_of_ratings == RatingScale.TEN

    source.rating_scale = RatingScale.NPS  # an admin knows better
    assert source.scale_of_ratings == RatingScale.NPS
    assert source.rating_scale_note == "0-10, likelihood to recommend (NPS), as set"


def test_ratings_read_as_sentiment_on_the_sources_scale() -> None:
    add_item("Great flight", rating=8, source="Airline")
    add_item("Fine", rating=1, source="Airline")
    airline = DataSource.objects.get(name="Airline")
    bounds = rating_bounds(airline)
    assert bounds is not None
    assert [bounds.label(r) for r in (4, 5, 7)] == ["negative", "neutral", "positive"]
    airline.rating_scale = RatingScale.NPS
    bounds = rating_bounds(airline)
    assert bounds is not None
    assert [bounds.label(r) for r in (6, 8, 9)] == ["negative", "neutral", "positive"]
    add_item("Meh", rating=3, source="Thumbs and threes")
    assert rating_bounds(DataSource.objects.get(name="Thumbs and threes")) is None


def test_pages_show_and_filter_ratings_on_each_sources_scale() -> None:
    four_stars = add_item("Nice app", rating=4, source="App Store")
    add_item("Awful app", rating=1, source="App Store")
    four_of_ten = add_item("Poor flight", rating=4, source="Airline")
    eight_of_ten = add_item("Good flight", rating=8, source="Airline")
    lead = person("sam", roles.SUPPORT_LEAD)
    url = reverse("insights:item_list")

    html = lead.get(url).content.decode()
    assert "App Store · 2026-11-01 12:00 · 4★" in html
    assert "Airline · 2026-11-01 12:00 · 8/10" in html and "4/10" in html
    detail = lead.get(reverse("insights:item_detail", args=[eight_of_ten.pk])).content.decode()
    assert "8/10" in detail and "reads as <span" in detail

    def listed(rating: str) -> set[FeedbackItem]:
        page = lead.get(url, {"rating": rating})
        assert not page.context["filters"].form.errors, page.context["filters"].form.errors
        return set(page.context["page"])

    assert listed("4") == {four_stars}  # four stars, not four out of ten
    assert listed("4/10") == {four_of_ten}
    assert listed("8/10") == {eight_of_ten}
    choices = dict(lead.get(url).context["filters"].form.fields["rating"].choices)
    assert [value for value, _ in choices["Out of 10"]] == [f"{n}/10" for n in range(1, 11)]


def test_a_rating_scale_can_be_set_on_the_sources_page() -> None:
    add_item("Good flight", rating=8, source="Airline")
    airline = DataSource.objects.get(name="Airline")
    admin = person("ada", roles.ADMIN)
    url = reverse("ingestion:source_edit", args=[airline.pk])
    form = admin.get(url).context["form"]
    assert form.fields["rating_scale"].choices[0] == ("", "Told by the ratings (now: 1-10)")
    fields = {"name": "Airline", "item_kind": "review", "enabled": "on", "rating_scale": "nps"}
    admin.post(url, fields)
    airline.refresh_from_db()
    assert airline.scale_of_ratings == RatingScale.NPS
    sources = admin.get(reverse("ingestion:source_list")).content.decode()
    assert "0-10, likelihood to recommend (NPS), as set" in sources
