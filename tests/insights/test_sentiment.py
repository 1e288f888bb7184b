from collections import Counter

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import User

from ingestion.models import DataSource, FeedbackItem
from insights.local_models import configured_embedder, configured_llm, model_version
from insights.models import ItemSentiment, SentimentClassifier
from insights.pipeline.embedding import item_vectors
from insights.pipeline.sentiment.fitting import classifier_probabilities, logistic_probabilities
from insights.pipeline.sentiment.prompt import LABELS, SENTIMENT_PROMPT_VERSION, sentiment_prompt
from insights.pipeline.sentiment.stage import (
    SentimentError,
    analyse_sentiment,
    correct_sentiment,
    fit_sentiment_classifier,
    predict_sentiment,
    score_with_llm,
)
from insights.pipeline.units import text_units
from llm.generation import FEATURE_TOKENS
from tests.factories import add_item_ids

pytestmark = pytest.mark.django_db

NEGATIVE = [
    "The app crashes every time I try to upload a photo. Completely useless.",
    "Worst customer service ever, I waited 3 hours and got hung up on.",
    "My order arrived broken and nobody answers my emails.",
    "@shopco you charged me twice and still no refund. Terrible.",
    "Since the last update the battery drains in two hours. So annoying.",
    "I hate the new design, I can't find anything anymore.",
    "The delivery was late again and the food was cold.",
    "Cancelled my subscription, too many bugs and no fixes.",
]
NEUTRAL = [
    "How do I change the email address on my account?",
    "Is there a version of the app for tablets?",
    "@shopco what are your opening hours on Sunday?",
    "I ordered the medium size on Tuesday.",
    "Does the premium plan include offline maps?",
    "The parcel was handed to the courier this morning.",
    "Can I pay with a gift card?",
    "Where can I find my invoices?",
]
POSITIVE = [
    "I love this app, it makes budgeting so easy!",
    "Amazing support, they fixed my issue in five minutes. Thank you!",
    "@shopco best delivery service ever, always on time",
    "Great product, works perfectly and looks beautiful.",
    "The new update is fantastic, everything is so much faster.",
    "Thanks for the quick refund, very happy with the service.",
    "Five stars, the team was friendly and helpful.",
    "Really enjoying the new recipes, my kids love them.",
]


def app_store() -> DataSource:
    """The source add_item_ids puts items in by default."""
    return DataSource.objects.get(name="App Store")


def sentiment_of(item_id: int) -> ItemSentiment:
    return ItemSentiment.objects.get(item_id=item_id)


def raw_label(item_id: int) -> str:
    scores = sentiment_of(item_id).llm_scores
    return max(scores, key=scores.get)


def test_a_clearly_negative_text_scores_negative_and_a_positive_one_positive() -> None:
    negative, positive = add_item_ids(NEGATIVE[0], POSITIVE[0])
    assert score_with_llm([negative, positive], configured_llm()) == 2
    assert raw_label(negative) == "negative"
    assert raw_label(positive) == "positive"
    stored = sentiment_of(negative)
    assert sum(stored.llm_scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert stored.llm_model.name == configured_llm().name
    assert stored.prompt_version == SENTIMENT_PROMPT_VERSION


def test_scoring_twice_scores_nothing_the_second_time() -> None:
    ids = add_item_ids(NEGATIVE[1], NEUTRAL[1])
    assert score_with_llm(ids, configured_llm()) == 2
    first_scores = sentiment_of(ids[0]).llm_scores
    assert score_with_llm(ids, configured_llm()) == 0
    assert sentiment_of(ids[0]).llm_scores == first_scores


def test_items_scored_with_another_prompt_version_are_scored_again() -> None:
    ids = add_item_ids(NEGATIVE[2], POSITIVE[2])
    score_with_llm(ids, configured_llm())
    ItemSentiment.objects.filter(item_id=ids[0]).update(prompt_version="an-older-prompt")
    assert score_with_llm(ids, configured_llm()) == 1
    assert sentiment_of(ids[0]).prompt_version == SENTIMENT_PROMPT_VERSION


def test_the_prompt_never_overflows_the_context_for_a_20000_character_text() -> None:
    llm = configured_llm()
    # Mixed scripts and emoji: the costliest text in tokens per character.
    long_text = ("Lost my bag again 😡\n漢字のテキスト ünïcödé " * 700)[:20_000]
    prompt = llm.render(sentiment_prompt(long_text))
    tokens = llm.tokenize(prompt)
    assert len(long_text) == 20_000
    assert len(tokens) < settings.LLM_CONTEXT_SIZE
    assert "\n" not in sentiment_prompt(long_text).query.removesuffix("\nSentiment:")
    (item,) = add_item_ids(long_text)
    assert score_with_llm([item], configured_llm()) == 1


def test_neutral_is_predicted_on_mixed_feedback_and_the_prior_sums_to_one() -> None:
    ids = add_item_ids(*NEGATIVE, *NEUTRAL, *POSITIVE)
    progress: list[tuple[int, int]] = []
    predicted_count = analyse_sentiment(
        ids,
        configured_llm(),
        configured_embedder(),
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert (predicted_count, progress[-1]) == (24, (24, 24))
    classifier = SentimentClassifier.objects.latest()
    assert sum(classifier.prior.values()) == pytest.approx(1.0)
    # The base model says "negative" too readily: the prior must show it.
    assert classifier.prior["negative"] > classifier.prior["neutral"]
    assert classifier.uses_classifier
    assert set(classifier.classifier["classes"]) == set(LABELS)
    assert classifier.pseudo_labels > 0
    predicted = [sentiment_of(pk).predicted for pk in ids]
    truth = ["negative"] * 8 + ["neutral"] * 8 + ["positive"] * 8
    assert Counter(predicted)["neutral"] >= 2
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    assert accuracy >= 0.6
    for pk in ids:
        row = sentiment_of(pk)
        assert row.classifier == classifier
        assert row.confidence == pytest.approx(max(row.probabilities.values()), abs=1e-3)


def test_a_star_rating_never_replaces_the_predicted_sentiment() -> None:
    complaints = add_item_ids(*NEGATIVE[:4], rating=5.0)
    analyse_sentiment(
        add_item_ids(*NEGATIVE[4:], *NEUTRAL, *POSITIVE) + complaints,
        configured_llm(),
        configured_embedder(),
    )
    assert [sentiment_of(pk).predicted for pk in complaints] == ["negative"] * 4
    assert FeedbackItem.objects.get(pk=complaints[0]).rating == 5.0


def test_too_few_items_fit_no_classifier_and_the_calibrated_model_predicts_alone() -> None:
    ids = add_item_ids(NEGATIVE[5], NEUTRAL[5], POSITIVE[5])
    assert analyse_sentiment(ids, configured_llm(), configured_embedder()) == 3
    classifier = SentimentClassifier.objects.latest()
    assert classifier.classifier == {}
    assert not classifier.uses_classifier
    assert all(sentiment_of(pk).predicted in LABELS for pk in ids)


def test_a_correction_wins_over_the_prediction_and_survives_predicting_again() -> None:
    ids = add_item_ids(POSITIVE[6], NEGATIVE[6], NEUTRAL[6])
    analyse_sentiment(ids, configured_llm(), configured_embedder())
    classifier = SentimentClassifier.objects.latest()
    assert sentiment_of(ids[0]).predicted == "positive"
    person = User.objects.create_user("sam")
    correct_sentiment(FeedbackItem.objects.get(pk=ids[0]), "neutral", person)
    corrected = sentiment_of(ids[0])
    assert (corrected.label, corrected.corrected_by, corrected.predicted) == (
        "neutral",
        person,
        "positive",
    )
    assert corrected.corrected_at is not None
    predict_sentiment(ids, classifier, configured_embedder())
    analyse_sentiment(ids, configured_llm(), configured_embedder())
    assert sentiment_of(ids[0]).label == "neutral"
    assert sentiment_of(ids[0]).corrected == "neutral"


def test_a_correction_must_be_a_known_sentiment() -> None:
    (item_id,) = add_item_ids(NEUTRAL[7])
    score_with_llm([item_id], configured_llm())
    with pytest.raises(SentimentError, match="not a sentiment"):
        correct_sentiment(FeedbackItem.objects.get(pk=item_id), "furious", None)
    assert sentiment_of(item_id).corrected == ""


def test_corrections_are_used_as_training_labels() -> None:
    ids = add_item_ids(*NEGATIVE, *NEUTRAL, *POSITIVE)
    # Statements the model need not call negative, which these people read as complaints.
    complaints = add_item_ids(
        "The export button moved to the settings page.",
        "The export now takes about ten minutes.",
        "Exporting now asks for my password every time.",
        "The export file is now a zip archive.",
    )
    score_with_llm(ids + complaints, configured_llm())
    person = User.objects.create_user("kim")
    for pk in complaints:
        correct_sentiment(FeedbackItem.objects.get(pk=pk), "negative", person)
    classifier = fit_sentiment_classifier(
        model_version(configured_llm()), configured_embedder(), app_store()
    )
    assert classifier.corrections == 4
    assert classifier.llm_accuracy is None  # too few corrections to measure
    assert SentimentClassifier.objects.count() == 1
    _, vectors = item_vectors(
        FeedbackItem.objects.filter(pk__in=complaints), configured_embedder().name
    )
    features = np.array(
        [np.frombuffer(bytes(sentiment_of(pk).llm_features), np.float16) for pk in complaints]
    )
    read = classifier_probabilities(classifier.classifier, vectors, features.astype(np.float32))
    assert [LABELS[i] for i in read.argmax(axis=1)] == ["negative"] * 4
    by_embedding = classifier_probabilities(classifier.classifier, vectors)  # its twin's
    assert [LABELS[i] for i in by_embedding.argmax(axis=1)] == ["negative"] * 4


def test_with_thirty_corrections_it_measures_both_and_keeps_the_more_accurate() -> None:
    extra = [
        "Terrible update, the app logs me out every hour.",
        "Do you deliver on public holidays?",
        "Brilliant customer service, thank you so much!",
        "The refund never arrived and support ignores me.",
        "My account was created last week.",
        "So happy with my new headphones, great sound.",
    ]
    ids = add_item_ids(*NEGATIVE, *NEUTRAL, *POSITIVE, *extra)
    truth = ["negative"] * 8 + ["neutral"] * 8 + ["positive"] * 8
    truth += ["negative", "neutral", "positive"] * 2
    score_with_llm(ids, configured_llm())
    person = User.objects.create_user("lee")
    for pk, label in zip(ids, truth, strict=True):
        correct_sentiment(FeedbackItem.objects.get(pk=pk), label, person)
    classifier = fit_sentiment_classifier(
        model_version(configured_llm()), configured_embedder(), app_store()
    )
    assert classifier.corrections == 30
    assert classifier.pseudo_labels == 0
    assert classifier.llm_accuracy is not None
    assert classifier.combined_accuracy is not None
    assert 0.0 <= classifier.llm_accuracy <= 1.0
    assert classifier.uses_classifier == (classifier.combined_accuracy >= classifier.llm_accuracy)


def test_beyond_its_budget_a_run_predicts_from_embeddings_and_a_later_run_scores_the_rest(
    settings: object,
) -> None:
    settings.SENTIMENT_LLM_CALLS_PER_RUN = 20  # type: ignore[attr-defined]
    ids = add_item_ids(*NEGATIVE, *NEUTRAL, *POSITIVE)
    rows = ItemSentiment.objects.filter(item_id__in=ids)

    assert (
        analyse_sentiment(FeedbackItem.objects.all(), configured_llm(), configured_embedder()) == 20
    )

    assert rows.exclude(llm_model=None).count() == 20
    assert rows.exclude(predicted="").count() == len(ids)  # the others from embeddings
    by_embedding = rows.filter(llm_model=None)
    assert by_embedding.count() == len(ids) - 20 and by_embedding[0].llm_scores == {}
    unscored = by_embedding[0].item
    correct_sentiment(unscored, "positive", None)

    assert (
        analyse_sentiment(FeedbackItem.objects.all(), configured_llm(), configured_embedder()) == 4
    )
    assert rows.exclude(llm_model=None).count() == len(ids)
    assert sentiment_of(unscored.pk).llm_scores  # corrected items are scored first
    assert sentiment_of(unscored.pk).label == "positive"


def test_the_classifier_learns_from_the_models_feature_logits_and_reads_unscored_items_by_embedding(
    settings: object,
) -> None:
    settings.SENTIMENT_LLM_CALLS_PER_RUN = 20  # type: ignore[attr-defined]
    ids = add_item_ids(*NEGATIVE, *NEUTRAL, *POSITIVE)
    embedder = configured_embedder()
    analyse_sentiment(FeedbackItem.objects.all(), configured_llm(), embedder)

    scored = ItemSentiment.objects.exclude(llm_model=None)
    assert {len(bytes(row.llm_features)) for row in scored} == {2 * FEATURE_TOKENS}  # float16
    fitted = SentimentClassifier.objects.get().classifier
    assert np.shape(fitted["coef"]) == (len(LABELS), embedder.dimensions + FEATURE_TOKENS)
    assert len(fitted["features"]["mean"]) == FEATURE_TOKENS
    # Items beyond the run's budget have no feature logits: the embeddings alone read them.
    unscored = ItemSentiment.objects.filter(llm_model=None).order_by("item_id")
    unscored_ids = [row.item_id for row in unscored]
    assert len(unscored_ids) == len(ids) - 20
    _, vectors = item_vectors(FeedbackItem.objects.filter(pk__in=unscored_ids), embedder.name)
    by_embedding = logistic_probabilities(fitted["embedding_only"], vectors)
    assert [row.predicted for row in unscored] == [LABELS[i] for i in by_embedding.argmax(axis=1)]


LONG_COMPLAINT = (
    "I booked the 7am flight from Manchester to Rome for my mother's birthday in March. "
    "We checked in two suitcases at the desk and boarded on time. "
    "The flight was cancelled after two hours on the plane and nobody told us why. "
    "Our suitcases were lost, the refund was refused and the helpline hung up on me three times. "
    "This was the worst trip of my life and I will never fly with this airline again."
)


def test_a_long_complaint_is_scored_sentence_by_sentence_and_reads_negative() -> None:
    long_item, short_item = add_item_ids(LONG_COMPLAINT, NEGATIVE[0])
    assert score_with_llm([long_item, short_item], configured_llm()) == 2

    stored = sentiment_of(long_item)
    units = text_units(LONG_COMPLAINT)
    assert len(units) >= 4
    assert [(start, end) for start, end, _ in stored.unit_scores] == [
        (unit.start, unit.end) for unit in units
    ]
    unit_labels = [max(scores, key=scores.get) for _, _, scores in stored.unit_scores]
    assert unit_labels.count("negative") >= 2
    assert raw_label(long_item) == "negative"
    assert sum(stored.llm_scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert sentiment_of(short_item).unit_scores == []  # one unit: its score is the item's


def test_the_budget_counts_a_long_items_sentences(settings: object) -> None:
    calls = len(text_units(LONG_COMPLAINT)) + 1  # each sentence, and the whole text
    settings.SENTIMENT_LLM_CALLS_PER_RUN = 2 * calls + 1  # type: ignore[attr-defined]
    add_item_ids(LONG_COMPLAINT, LONG_COMPLAINT + " Really.", LONG_COMPLAINT + " Awful.")
    scored = analyse_sentiment(FeedbackItem.objects.all(), configured_llm(), configured_embedder())
    assert scored == 2  # a third would pass the budget by its sentences
