"""Sentiment toward each theme: a long item in several themes counts, in each, by what the
sentence that put it there reads (issue 19, aspect sentiment), not by the whole item."""

from datetime import date

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from accounts import roles
from insights.dashboards.daily_counts import rebuild_daily_counts
from insights.dashboards.filters import FeedbackFilters
from insights.dashboards.overview import build_overview
from insights.dashboards.theme_stats import theme_detail, theme_list
from insights.local_models import configured_embedder, configured_llm
from insights.models import (
    Correction,
    CorrectionKind,
    ItemSentiment,
    SentimentClassifier,
    Theme,
    ThemeAssignment,
)
from insights.pipeline.describing.quotes import theme_quotes
from insights.pipeline.sentiment.stage import (
    analyse_sentiment,
    read_pending_theme_sentiments,
    read_theme_sentiments,
)
from insights.pipeline.units import text_units
from insights.reports.content import WHOLE_WORKSPACE, theme_figures
from insights.reports.period import Period
from tests.factories import add_items, make_theme
from tests.insights.test_theme_pages import add_item, model_version, person

pytestmark = pytest.mark.django_db

CREW = (
    "The cabin crew were wonderful: warm, attentive and genuinely kind to my elderly mother "
    "for the whole flight."
)
DELAY = "But the flight was delayed by six hours, nobody told us why, and we missed our connection."
TRIP = "We flew from Lisbon to Toronto in October on the evening flight with two suitcases."
TWO_OPINIONS = f"{TRIP} {CREW} {DELAY}"


def span_of(text: str, sentence: str) -> tuple[int, int]:
    """The unit of text (insights.pipeline.units) that holds the sentence."""
    start = text.index(sentence)
    (unit,) = [u for u in text_units(text) if u.start <= start < u.end]
    return unit.start, unit.end


def put_in(theme: Theme, item_id: int, span: tuple[int, int] | None) -> ThemeAssignment:
    """Assign the item to the theme, quoting span, as a re-cluster would."""
    start, end = span or (None, None)
    return ThemeAssignment.objects.create(
        item_id=item_id, theme=theme, unit_start=start, unit_end=end, method="cluster"
    )


@pytest.fixture
def lead() -> Client:
    return person("sam", roles.SUPPORT_LEAD)


def toward(theme: Theme, item_id: int) -> str:
    return ThemeAssignment.objects.get(theme=theme, item_id=item_id).sentiment


def test_a_review_praising_the_crew_and_blaming_a_delay_reads_positive_and_negative() -> None:
    """The real language model reads each sentence; the item page's units and the themes'
    sentiments are the same reading."""
    assert len(text_units(TWO_OPINIONS)) == 3
    (review,) = add_items(TWO_OPINIONS)
    others = add_items(
        "The app crashes every time I open it.",
        "Lovely service, thank you!",
        "How do I change my seat?",
    )
    crew, delays = make_theme("Friendly crew"), make_theme("Delays")
    put_in(crew, review.pk, span_of(TWO_OPINIONS, CREW))
    put_in(delays, review.pk, span_of(TWO_OPINIONS, DELAY))

    analyse_sentiment(
        [review.pk, *(item.pk for item in others)], configured_llm(), configured_embedder()
    )

    assert toward(crew, review.pk) == "positive"
    assert toward(delays, review.pk) == "negative"


def test_an_assignment_made_after_the_sentiment_is_read_by_the_themes_stage() -> None:
    (review,) = add_items(TWO_OPINIONS)
    analyse_sentiment([review.pk], configured_llm(), configured_embedder())
    delays = make_theme("Delays")
    put_in(delays, review.pk, span_of(TWO_OPINIONS, DELAY))
    assert toward(delays, review.pk) == ""

    assert read_pending_theme_sentiments() == 1
    assert toward(delays, review.pk) == "negative"
    assert read_pending_theme_sentiments() == 0


# -- counting, from stored scores (no model) ---------------------------------------------

CLEAR = {
    "positive": {"negative": 0.05, "neutral": 0.05, "positive": 0.9},
    "negative": {"negative": 0.9, "neutral": 0.05, "positive": 0.05},
}


def scored_review(overall: str, units: dict[str, str], day: int = 2) -> int:
    """A stored TWO_OPINIONS item predicted `overall`, its units scored as units says
    (sentence of it: label), under a classifier that leaves scores as they are."""
    item = add_item(TWO_OPINIONS, day, label=overall)
    classifier = SentimentClassifier.objects.create(
        source=item.source,
        llm_model=model_version(),
        prompt_version="v",
        embedding_model="m",
        prior={"negative": 1 / 3, "neutral": 1 / 3, "positive": 1 / 3},
        calibration="raw",
    )
    unit_scores = []
    for sentence, label in units.items():
        start, end = span_of(TWO_OPINIONS, sentence)
        unit_scores.append([start, end, CLEAR[label]])
    ItemSentiment.objects.filter(item=item).update(unit_scores=unit_scores, classifier=classifier)
    return item.pk


def no_filters() -> FeedbackFilters:
    return FeedbackFilters(QueryDict(""))


@pytest.fixture
def crew_and_delays() -> tuple[Theme, Theme, int]:
    """A review negative overall, in "Friendly crew" by its praise and in "Delays" by its
    complaint; each theme also holds a short item negative as a whole."""
    review = scored_review("negative", {CREW: "positive", DELAY: "negative"})
    crew = make_theme("Friendly crew", [add_item("Rude crew on my flight", 2, label="negative")])
    delays = make_theme("Delays", [add_item("Two hours late again", 2, label="negative")])
    put_in(crew, review, span_of(TWO_OPINIONS, CREW))
    put_in(delays, review, span_of(TWO_OPINIONS, DELAY))
    assert read_theme_sentiments([review]) == 2
    rebuild_daily_counts()  # as a run does after its themes
    return crew, delays, review


def test_each_theme_counts_the_item_by_its_sentiment_toward_it(
    crew_and_delays: tuple[Theme, Theme, int],
) -> None:
    crew, delays, _ = crew_and_delays
    splits = {row["theme"].pk: row["split"] for row in theme_list(no_filters()).rows}
    counts = {pk: {part["label"]: part["count"] for part in split} for pk, split in splits.items()}
    assert counts[crew.pk]["positive"] == 1 and counts[crew.pk]["negative"] == 1
    assert counts[delays.pk]["positive"] == 0 and counts[delays.pk]["negative"] == 2

    for theme, negative in ((crew, 1), (delays, 2)):
        detail = theme_detail(theme, no_filters())
        assert (detail.split.total, detail.split.negative) == (2, negative)
        assert sum(week["negative"] for week in detail.weeks) == negative

    overview = {stats.id: stats.split for stats in build_overview(no_filters()).themes}
    assert (overview[crew.pk].negative, overview[crew.pk].positive) == (1, 1)
    assert (overview[delays.pk].negative, overview[delays.pk].positive) == (2, 0)
    # The item itself is still negative: the totals count items, not opinions.
    assert build_overview(no_filters()).totals.negative == 3


def test_the_weekly_report_and_negative_quotes_use_the_sentiment_toward_the_theme(
    crew_and_delays: tuple[Theme, Theme, int],
) -> None:
    crew, delays, review = crew_and_delays
    november = Period(date(2026, 11, 1), date(2026, 11, 7), "UTC")
    figures = {theme.id: theme.current for theme in theme_figures(november, WHOLE_WORKSPACE)}
    assert (figures[crew.pk].negative, figures[crew.pk].positive) == (1, 1)
    assert figures[delays.pk].negative == 2

    crew_negative = [quote.item_id for quote in theme_quotes(crew, 5, negative_only=True)]
    delay_negative = [quote.item_id for quote in theme_quotes(delays, 5, negative_only=True)]
    assert review not in crew_negative
    assert review in delay_negative


def test_without_a_reading_of_its_unit_the_items_own_label_counts() -> None:
    review = scored_review("negative", {CREW: "positive"})  # the delay sentence unscored
    delays = make_theme("Delays")
    put_in(delays, review, span_of(TWO_OPINIONS, DELAY))
    whole = make_theme("Everything")
    put_in(whole, review, None)
    read_theme_sentiments([review])
    rebuild_daily_counts()
    assert toward(delays, review) == toward(whole, review) == ""
    for theme in (delays, whole):
        assert theme_detail(theme, no_filters()).split.negative == 1


def test_a_new_calibration_reads_the_units_again() -> None:
    review = scored_review("negative", {CREW: "positive", DELAY: "negative"})
    crew = make_theme("Friendly crew")
    put_in(crew, review, span_of(TWO_OPINIONS, CREW))
    read_theme_sentiments([review])
    assert toward(crew, review) == "positive"
    # A calibration that finds this model far too fond of "positive" turns it negative.
    SentimentClassifier.objects.update(prior={"negative": 0.01, "neutral": 0.01, "positive": 0.98})
    assert read_theme_sentiments([review]) == 1
    assert toward(crew, review) == "negative"


def test_the_item_and_theme_pages_say_how_the_item_reads_toward_each_theme(
    crew_and_delays: tuple[Theme, Theme, int], lead: Client
) -> None:
    crew, _, review = crew_and_delays
    item_page = lead.get(reverse("insights:item_detail", args=[review])).content.decode()
    assert item_page.count(" toward this theme</span>") == 2
    assert ">positive toward this theme<" in item_page
    assert ">negative toward this theme<" in item_page

    crew_page = lead.get(reverse("insights:theme_detail", args=[crew.pk])).content.decode()
    listed = crew_page[crew_page.index(f'id="item-{review}"') :]
    listed = listed[: listed.index("</li>")]
    assert ">positive toward this theme<" in listed
    assert CREW in listed


# -- a person's correction toward a theme ------------------------------------------------


@pytest.fixture
def pm() -> Client:
    return person("priya", roles.PRODUCT_MANAGER)


def correct_toward(client: Client, item_id: int, theme: Theme, label: str) -> str:
    """Post the item page's correction of its sentiment toward the theme; return the page
    it leads back to."""
    url = reverse("insights:correct_theme_sentiment", args=[item_id, theme.pk])
    response = client.post(url, {f"theme-{theme.pk}-sentiment": label}, follow=True)
    return response.content.decode()


def test_a_product_manager_corrects_the_sentiment_toward_one_theme(
    crew_and_delays: tuple[Theme, Theme, int], pm: Client
) -> None:
    crew, delays, review = crew_and_delays
    page = correct_toward(pm, review, delays, "neutral")

    assert "Sentiment toward “Delays” set to neutral." in page
    assert "(set by a person)" in page
    assert toward(delays, review) == "neutral" and toward(crew, review) == "positive"
    assert theme_detail(delays, no_filters()).split.neutral == 1
    correction = Correction.objects.get(kind=CorrectionKind.THEME_SENTIMENT)
    assert (correction.item_id, correction.theme_id) == (review, delays.pk)
    assert (correction.before, correction.after) == ("negative", "neutral")
    # The machine reading the sentence again leaves the person's word.
    assert read_theme_sentiments([review]) == 0
    assert toward(delays, review) == "neutral"


def test_the_sentiment_toward_a_theme_the_item_is_in_whole_is_its_own(pm: Client) -> None:
    item = add_item("Two hours late again", 2, label="negative")
    delays = make_theme("Delays", [item])
    page = correct_toward(pm, item.pk, delays, "positive")
    assert "correct its own sentiment instead" in page
    assert toward(delays, item.pk) == ""
    item_page = pm.get(reverse("insights:item_detail", args=[item.pk])).content.decode()
    assert f'id="correct-theme-sentiment-{delays.pk}"' not in item_page


def test_a_support_lead_may_not_correct_the_sentiment_toward_a_theme(
    crew_and_delays: tuple[Theme, Theme, int], lead: Client
) -> None:
    _, delays, review = crew_and_delays
    url = reverse("insights:correct_theme_sentiment", args=[review, delays.pk])
    assert lead.post(url, {f"theme-{delays.pk}-sentiment": "positive"}).status_code == 403
    assert toward(delays, review) == "negative"
    page = lead.get(reverse("insights:item_detail", args=[review])).content.decode()
    assert "correct-theme-sentiment" not in page
