"""Sentiment per source: each source's calibration and classifier are fitted on its own items,
its star ratings train it, and the pages say how predictions and ratings agree."""

import numpy as np
import pytest
from django.urls import reverse

from accounts import roles
from devtools.evaluation.datasets import read_amazon_reviews
from ingestion.forms import source_form
from ingestion.models import DataSource, FeedbackItem, SourceKind
from ingestion.ratings import RatingScale
from ingestion.source_forms import SourceForm
from insights.local_models import configured_embedder, configured_llm, model_version
from insights.models import Calibration, ItemSentiment, SentimentClassifier
from insights.pipeline.sentiment.fitting import (
    DEFAULT_CALIBRATION,
    MIN_LABELS_TO_VALIDATE,
    calibration_priors,
    choose_calibration,
    classifier_probabilities,
    fit_sentiment,
    macro_f1,
    predict_distributions,
)
from insights.pipeline.sentiment.prompt import LABELS
from insights.pipeline.sentiment.ratings import RatingBounds, rating_labels
from insights.pipeline.sentiment.stage import (
    analyse_sentiment,
    correct_sentiment,
    fit_sentiment_classifier,
    score_with_llm,
)
from tests.factories import add_item_ids, add_items, stand_in_model_version
from tests.insights.test_sentiment import NEGATIVE, NEUTRAL, POSITIVE
from tests.insights.test_theme_pages import person

pytestmark = pytest.mark.django_db

TICKETS = [
    "Your courier left my parcel in the rain and the box was soaked through.",
    "I have emailed support four times about my refund and heard nothing back.",
    "The invoice charges me for two seats but we only have one user.",
    "Your website logged me out halfway through checkout and emptied my basket.",
    "The replacement part you sent is the wrong size, again.",
    "I was promised a call back yesterday and nobody called.",
    "Three weeks and my order still says processing. This is unacceptable.",
    "The password reset link in your email has expired before it arrived.",
    "You cancelled my booking without telling me and kept the deposit.",
    "The chat bot keeps sending me in circles and never reaches a person.",
    "My discount code was rejected even though it is valid until next month.",
    "The delivery driver was rude and threw the package over the fence.",
    "Your app charged my old card after I removed it from my account.",
    "The product page said in stock but my order was cancelled as unavailable.",
    "I cannot download my invoices, the button shows an error every time.",
    "My subscription renewed at a higher price without any notice.",
    "The tracking number you gave me does not exist on the courier's site.",
    "The agent closed my ticket without solving anything.",
    "Every time I call I am told a different story about my refund.",
    "The item arrived scratched and the return label does not print.",
]


def predictions(ids: list[int]) -> list[tuple[str, dict[str, float]]]:
    rows = ItemSentiment.objects.filter(item_id__in=ids).order_by("item_id")
    return [(row.predicted, row.probabilities) for row in rows]


# --- ratings read as sentiment ----------------------------------------------------------


def bounds(scale: RatingScale | None, *given: float | None) -> RatingBounds:
    found = RatingBounds.for_scale(scale, *given)
    assert found is not None
    return found


def test_ratings_read_as_sentiment_by_their_scale_unless_the_source_sets_bounds() -> None:
    stars = bounds(RatingScale.STARS)
    assert [stars.label(r) for r in (1, 2, 3, 4, 5)] == [
        "negative",
        "negative",
        "neutral",
        "positive",
        "positive",
    ]
    assert stars.label(None) == stars.label(float("nan")) == ""
    ten = bounds(RatingScale.TEN)
    assert [ten.label(r) for r in (1, 4, 5, 6, 7, 10)] == [
        "negative",
        "negative",
        "neutral",
        "neutral",
        "positive",
        "positive",
    ]
    nps = bounds(RatingScale.NPS)  # detractors, passives, promoters
    assert [nps.label(r) for r in (0, 6, 7, 8, 9, 10)] == [
        "negative",
        "negative",
        "neutral",
        "neutral",
        "positive",
        "positive",
    ]
    own = bounds(RatingScale.TEN, 2.0, 6.0)
    assert [own.label(r) for r in (2, 3, 6)] == ["negative", "neutral", "positive"]
    labels = stars.labels(np.array([1.0, np.nan, 5.0]))
    assert labels.tolist() == [LABELS.index("negative"), -1, LABELS.index("positive")]


def test_ratings_whose_scale_is_not_known_or_whose_bounds_cross_are_not_read() -> None:
    assert RatingBounds.for_scale(None) is None
    assert RatingBounds.for_scale(None, 0.0) is None
    assert bounds(None, 0.0, 1.0).label(1.0) == "positive"  # unless the source says
    assert RatingBounds.for_scale(RatingScale.TEN, 8.0) is None  # negative to 8, positive from 7
    assert rating_labels(None, np.array([1.0, 5.0])).tolist() == [-1, -1]


def bounds_form(negative_max: str, positive_min: str) -> SourceForm:
    fields = {"name": "Reviews", "item_kind": "review", "enabled": "on"}
    bounds = {"rating_negative_max": negative_max, "rating_positive_min": positive_min}
    return source_form(SourceKind.UPLOAD, {**fields, **bounds})


def test_a_source_form_refuses_positive_ratings_that_start_below_the_negative_ones() -> None:
    form = bounds_form("4", "3")
    assert not form.is_valid()
    assert "Positive ratings must start above the negative ones." in str(form.errors)
    form = bounds_form("4", "7")
    assert form.is_valid(), form.errors
    source = form.save()
    assert (source.rating_negative_max, source.rating_positive_min) == (4.0, 7.0)


# --- calibration chosen on the data at hand ---------------------------------------------


def test_with_enough_labels_the_calibration_that_predicts_them_best_is_chosen() -> None:
    # The model's raw scores are right; dividing by their mean over this (mostly positive)
    # source would call a third of the positive items something else.
    raw = np.array([[0.1, 0.1, 0.8]] * 40 + [[0.1, 0.2, 0.7]] * 20 + [[0.7, 0.2, 0.1]] * 5)
    labelled = np.array([2] * 60 + [0] * 5)
    priors = calibration_priors(raw, content_free=np.array([[0.2, 0.1, 0.7]]))
    assert choose_calibration(raw, priors, labelled) == Calibration.RAW
    # Without labels there is nothing to choose by: the default where it can be made.
    unlabelled = np.full(len(raw), -1)
    assert choose_calibration(raw, priors, unlabelled) == DEFAULT_CALIBRATION
    assert len(raw) >= MIN_LABELS_TO_VALIDATE


def test_feature_logits_that_carry_the_sentiment_teach_the_classifier() -> None:
    # Embeddings that say nothing, a weak language model, and feature logits of which a few
    # follow the true label: only a classifier that learns from the features gets it right.
    rng = np.random.default_rng(0)
    truth = rng.integers(0, len(LABELS), 900)
    vectors = rng.normal(size=(900, 24)) / 5
    features = rng.normal(size=(900, 64)) * 4 + 30
    features[:, :3] += 6 * np.eye(len(LABELS))[truth]
    raw = np.full((900, len(LABELS)), 0.2) + 0.4 * np.eye(len(LABELS))[truth]
    raw[rng.random(900) < 0.5] = [0.4, 0.3, 0.3]  # half the readings say little
    raw /= raw.sum(axis=1, keepdims=True)
    corrected = np.where(np.arange(900) < 300, truth, -1)  # 300 labels in the fitting pool
    pool, test = slice(0, 600), slice(600, 900)

    def macro_f1_on_test(use_features: bool) -> float:
        given = features if use_features else None
        fitted = fit_sentiment(
            raw[pool],
            vectors[pool],
            corrected[pool],
            features=None if given is None else given[pool],
        )
        row = SentimentClassifier(
            prior=dict(zip(LABELS, fitted.prior.tolist(), strict=True)),
            classifier=fitted.classifier,
            uses_classifier=fitted.uses_classifier,
        )
        test_features = None if given is None else given[test]
        found = predict_distributions(raw[test], vectors[test], row, test_features)
        return macro_f1(truth[test], found.argmax(axis=1))

    with_features, without = macro_f1_on_test(True), macro_f1_on_test(False)
    assert with_features > without + 0.1  # measured: 0.85 against 0.69


def test_a_classifier_fitted_with_feature_logits_reads_unscored_items_by_embeddings_alone() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, len(LABELS), 300)
    vectors = rng.normal(size=(300, 24)) + 2 * np.eye(len(LABELS), 24)[truth]
    features = rng.normal(size=(300, 64))
    raw = np.full((300, len(LABELS)), 0.2) + 0.4 * np.eye(len(LABELS))[truth]
    fitted = fit_sentiment(raw, vectors, np.full(300, -1), features=features)
    assert np.shape(fitted.classifier["coef"]) == (len(LABELS), 24 + 64)
    assert np.shape(fitted.classifier["embedding_only"]["coef"]) == (len(LABELS), 24)
    from_embeddings = classifier_probabilities(fitted.classifier, vectors)
    assert macro_f1(truth, from_embeddings.argmax(axis=1)) > 0.8  # measured: 0.84


# --- each source on its own terms (real models) -----------------------------------------


def test_a_second_unrelated_source_leaves_the_first_sources_predictions_unchanged() -> None:
    app = add_item_ids(*NEGATIVE, *NEUTRAL, *POSITIVE)
    analyse_sentiment(app, configured_llm(), configured_embedder())
    before = predictions(app)

    tickets = add_item_ids(*TICKETS, source="Support inbox", kind="ticket")
    analyse_sentiment(app + tickets, configured_llm(), configured_embedder())

    assert predictions(app) == before
    classifiers = SentimentClassifier.objects.order_by("pk")
    assert [c.source.name for c in classifiers] == ["App Store", "Support inbox"]
    assert ItemSentiment.objects.get(item_id=tickets[0]).classifier == classifiers[1]

    # A correction makes the App Store's refit due while the tickets are there: the refit
    # sees none of them, so it predicts as a refit of the App Store alone does.
    correct_sentiment(FeedbackItem.objects.get(pk=app[0]), "neutral", None)
    analyse_sentiment(app + tickets, configured_llm(), configured_embedder())
    beside_tickets = predictions(app)
    FeedbackItem.objects.filter(pk__in=tickets).delete()
    SentimentClassifier.objects.filter(source__name="App Store").delete()
    analyse_sentiment(app, configured_llm(), configured_embedder())
    assert predictions(app) == beside_tickets


def test_within_its_budget_a_run_scores_every_source_so_each_gets_its_own_classifier(
    settings: object,
) -> None:
    settings.SENTIMENT_LLM_CALLS_PER_RUN = 20  # type: ignore[attr-defined]
    app = add_item_ids(*NEGATIVE, *NEUTRAL, *POSITIVE)  # 24 items, listed first
    tickets = add_item_ids(*TICKETS[:6], source="Support inbox", kind="ticket")

    assert analyse_sentiment(app + tickets, configured_llm(), configured_embedder()) == 20

    scored = ItemSentiment.objects.exclude(llm_model=None)
    assert scored.filter(item_id__in=tickets).count() == 6  # taken in turn with the others
    assert scored.filter(item_id__in=app).count() == 14
    sources = {c.source.name for c in SentimentClassifier.objects.all()}
    assert sources == {"App Store", "Support inbox"}
    assert ItemSentiment.objects.filter(item_id__in=tickets, predicted="").count() == 0


def test_a_source_of_mostly_positive_rated_reviews_is_predicted_mostly_positive(
    datasets_dir: object,
) -> None:
    reviews = read_amazon_reviews(datasets_dir)  # type: ignore[arg-type]
    chosen = np.random.RandomState(0).choice(len(reviews.texts), 60, replace=False)
    items = [
        add_items(reviews.texts[i], source="Device reviews", rating=reviews.ratings[i])[0]
        for i in chosen
    ]
    ids = [item.pk for item in items]
    truth = [reviews.labels[i] for i in chosen]
    assert truth.count("positive") / len(truth) >= 0.8  # what the data holds

    analyse_sentiment(ids, configured_llm(), configured_embedder())

    predicted = [row[0] for row in predictions(ids)]
    assert predicted.count("positive") / len(predicted) >= 0.6
    classifier = SentimentClassifier.objects.get(source__name="Device reviews")
    assert classifier.ratings == len(ids)
    assert classifier.label_accuracy is not None  # sixty ratings are enough to measure


def test_a_rating_and_a_correction_both_move_the_classifier() -> None:
    ids = add_item_ids(*NEGATIVE, *NEUTRAL, *POSITIVE, *TICKETS[:6])
    score_with_llm(ids, configured_llm())
    version, embedder = model_version(configured_llm()), configured_embedder()
    source = DataSource.objects.get(name="App Store")
    plain = fit_sentiment_classifier(version, embedder, source)
    assert (plain.ratings, plain.corrections) == (0, 0)

    # Six complaints rated five stars: the ratings say positive, whatever the text.
    FeedbackItem.objects.filter(pk__in=ids[-6:]).update(rating=5.0)
    DataSource.objects.widen_rating_range(source.pk, [5.0])  # as storing rated items does
    source.refresh_from_db()
    rated = fit_sentiment_classifier(version, embedder, source)
    assert rated.ratings == 6
    assert not np.allclose(rated.classifier["coef"], plain.classifier["coef"])

    correct_sentiment(FeedbackItem.objects.get(pk=ids[-1]), "negative", None)
    corrected = fit_sentiment_classifier(version, embedder, source)
    assert (corrected.ratings, corrected.corrections) == (5, 1)  # the person's label wins
    assert not np.allclose(corrected.classifier["coef"], rated.classifier["coef"])


# --- pages --------------------------------------------------------------------------------


def predicted(
    items: list[FeedbackItem], labels: list[str], classifier: SentimentClassifier
) -> None:
    for item, label in zip(items, labels, strict=True):
        ItemSentiment.objects.create(
            item=item,
            llm_model=classifier.llm_model,
            predicted=label,
            probabilities={label: 1.0},
            classifier=classifier,
        )


def stand_in_classifier(source: DataSource, **fields: object) -> SentimentClassifier:
    return SentimentClassifier.objects.create(
        source=source,
        llm_model=stand_in_model_version(),
        prompt_version="p",
        embedding_model="e",
        **fields,  # type: ignore[arg-type]
    )


def test_the_accuracy_page_shows_how_often_predictions_agree_with_ratings_per_source() -> None:
    stars = add_items("a", "b", "c", "d", source="Store", rating=5.0)
    stars += add_items("e", source="Store", rating=1.0)
    source = DataSource.objects.get(name="Store")
    classifier = stand_in_classifier(
        source, ratings=5, corrections=1, pseudo_labels=7, uses_classifier=True
    )
    classifier.combined_accuracy = 0.8
    classifier.save()
    predicted(stars, ["positive", "positive", "positive", "neutral", "negative"], classifier)
    unrated = add_items("f", source="Tickets")
    predicted(unrated, ["negative"], stand_in_classifier(unrated[0].source))
    client = person("pat", roles.PRODUCT_MANAGER)

    page = client.get(reverse("insights:evaluation"))

    (row,) = page.context["ratings"]  # the unrated source has no row
    assert (row.agreement.group, row.agreement.labels, row.agreement.correct) == ("Store", 5, 4)
    html = page.content.decode()
    assert "Agreement with star ratings" in html
    assert "80%" in html
    assert "trained on 5 star ratings, 1 correction and 7 of the model" in html
    assert "accuracy on its labels 80%" in html


def test_the_item_page_shows_what_its_rating_reads_as_and_what_trained_its_classifier() -> None:
    (item,) = add_items("Ten out of ten", source="Airline reviews", rating=3.0)
    add_items("Best flight", source="Airline reviews", rating=9.0)  # a 1-10 scale
    classifier = stand_in_classifier(item.source, ratings=2, calibration=Calibration.RAW)
    predicted([item], ["negative"], classifier)
    client = person("pat", roles.PRODUCT_MANAGER)

    html = client.get(reverse("insights:item_detail", args=[item.pk])).content.decode()

    assert 'reads as <span class="negative">negative</span>' in html  # 3 of 10
    assert "trained on 2 star ratings, 0 corrections and 0 of the model" in html
    assert "calibration: none (the model&#x27;s raw scores)" in html
