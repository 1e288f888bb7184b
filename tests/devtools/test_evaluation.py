"""The quality evaluation's pieces (readers, split, metrics, cache, report, command) on tiny
fixtures; the full run on the public data sets is `make eval`, not a test."""

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from devtools.benchmark.synthetic import SyntheticRow
from devtools.evaluation import cache, mixed_workspace
from devtools.evaluation.alerts import evaluate_alerts
from devtools.evaluation.aspects import (
    AspectUnits,
    evaluate_aspect_sentiment,
    evaluate_aspect_themes,
)
from devtools.evaluation.cluster_sample import evaluate_cluster_sample, mix_truth
from devtools.evaluation.datasets import (
    AspectReview,
    AspectSentence,
    DatasetError,
    read_airline_tweets,
    read_amazon_reviews,
    read_banking77,
    read_semeval_reviews,
    split_tweets,
)
from devtools.evaluation.impact import evaluate_impact
from devtools.evaluation.long_text import LongTextScores, evaluate_long_reviews
from devtools.evaluation.mixed_workspace import evaluate_mixed_workspace
from devtools.evaluation.pain_points import (
    CLUSTER_SEEDS,
    MAX_SUMMARISED_THEMES,
    evaluate_pain_points,
    failure_reasons,
    largest_themes,
    nearest_quotes,
)
from devtools.evaluation.report import Section, format_value, text_table, write_report
from devtools.evaluation.sentiment import (
    AMAZON_REVIEWS,
    SentimentData,
    class_figures,
    corrections,
    evaluate_sentiment,
    label_indices,
    scores,
)
from devtools.evaluation.themes import clustering_scores, kmeans_given_k, theme_methods
from insights.models import SummaryKind
from insights.pipeline.describing.summaries import PainSummary
from insights.pipeline.sentiment.fitting import macro_f1
from insights.pipeline.sentiment.prompt import LABELS
from insights.pipeline.themes import clustering as clustering_module
from insights.pipeline.themes.clustering import NO_THEME
from insights.pipeline.units import Unit
from tests.factories import TopicVectors

DATASETS = Path(__file__).resolve().parents[1] / "fixtures" / "eval_datasets"


# -- readers and split -------------------------------------------------------------------


def test_it_reads_each_airline_tweet_once() -> None:
    tweets = read_airline_tweets(DATASETS)
    # The fixture has 30 rows, two of them repeated tweet ids.
    assert len(tweets.texts) == 28
    assert len(set(tweets.texts)) == 28
    assert tweets.texts[0].startswith("@AirNorth flight delayed three hours")
    assert tweets.sentiments[:4] == ["negative", "negative", "negative", "positive"]
    assert tweets.reasons[1] == "Lost Luggage"
    assert tweets.reasons[3] == ""


def test_it_reads_amazon_reviews_with_their_stars_as_sentiment() -> None:
    reviews = read_amazon_reviews(DATASETS)  # the file starts with a byte order mark
    assert reviews.texts[0] == "Love this tablet, the screen is bright"
    assert reviews.labels == ["positive", "negative", "neutral", "negative", "positive"]
    assert reviews.ratings == [5.0, 1.0, 3.0, 2.0, 4.0]


def test_it_reads_banking77_texts_with_their_intents() -> None:
    data = read_banking77(DATASETS)
    assert len(data.texts) == 6
    assert data.labels[0] == "card_arrival"
    assert len(set(data.labels)) == 3


def test_semeval_reviews_are_their_sentences_in_order_with_aspects_and_polarities() -> None:
    first, birthday, hotel = read_semeval_reviews(DATASETS)
    assert first.text == (
        "Great pasta, fresh and hot. The waiter ignored us for half an hour. Good food, slow staff."
    )
    waiter = first.sentences[1]
    assert first.text[waiter.start : waiter.end] == "The waiter ignored us for half an hour."
    assert waiter.aspects == {"restaurant SERVICE"} and waiter.polarities == {"negative"}
    assert first.sentences[2].aspects == {"restaurant FOOD", "restaurant SERVICE"}
    assert first.sentences[2].polarities == {"positive", "negative"}
    assert birthday.sentences[0].aspects == frozenset()
    assert hotel.sentences[0].aspects == {"hotel ROOMS"}


def test_it_names_the_missing_file_and_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="FEEDLENS_DATASETS_DIR") as error:
        read_banking77(tmp_path)
    assert "banking77" in str(error.value)


def test_the_split_is_seeded_and_keeps_the_pool_out_of_the_test_sample() -> None:
    split = split_tweets(100, 30, 50)
    again = split_tweets(100, 30, 50)
    assert np.array_equal(split.test, again.test)
    assert np.array_equal(split.pool, again.pool)
    assert len(split.test) == 30
    assert len(split.pool) == 50
    assert not set(split.test.tolist()) & set(split.pool.tolist())
    assert not np.array_equal(split.test, split_tweets(100, 30, 50, seed=1).test)


def test_a_sample_that_leaves_no_pool_is_refused() -> None:
    with pytest.raises(DatasetError, match="smaller --sentiment-sample"):
        split_tweets(28, 28, 10)


# -- themes ------------------------------------------------------------------------------


def test_unassigned_items_count_as_one_extra_cluster() -> None:
    truth = ["a", "a", "b", "b", "c", "c"]
    nothing = clustering_scores(truth, np.full(6, NO_THEME))
    assert nothing["ARI"] == pytest.approx(0.0)
    assert nothing["unassigned"] == 1.0
    assert nothing["themes"] == 0
    # The unassigned pair is exactly intent "a": as one cluster, the match is perfect.
    partial = clustering_scores(truth, np.array([NO_THEME, NO_THEME, 0, 0, 1, 1]))
    assert partial["ARI"] == pytest.approx(1.0)
    assert partial["NMI"] == pytest.approx(1.0)
    assert partial["unassigned"] == pytest.approx(1 / 3)
    assert partial["themes"] == 2


def test_kmeans_given_the_true_k_separates_clear_groups() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 10
    vectors = np.vstack([centre + rng.normal(size=(20, 3)) for centre in centres])
    truth = np.repeat(["x", "y", "z"], 20)
    labels = kmeans_given_k(3)([], vectors)
    assert clustering_scores(truth, labels)["ARI"] == pytest.approx(1.0)


def test_quick_leaves_out_hdbscan_on_raw_embeddings() -> None:
    full = [method.name for method in theme_methods(77, quick=False)]
    quick = [method.name for method in theme_methods(77, quick=True)]
    assert len(full) == 5
    assert full[0].startswith("ours") and full[1].startswith("ours fitted on a random half")
    assert [name for name in full if name not in quick] == [full[3]]
    assert "raw" in full[3]


# -- sentiment ---------------------------------------------------------------------------


def test_corrections_label_only_the_chosen_pool_rows() -> None:
    y_pool = np.arange(60) % 3
    corrected = corrections(y_pool, 20, seed=0)
    chosen = corrected >= 0
    assert chosen.sum() == 20
    assert np.array_equal(corrected[chosen], y_pool[chosen])
    assert np.array_equal(corrected, corrections(y_pool, 20, seed=0))
    assert not np.array_equal(corrected, corrections(y_pool, 20, seed=1))


def test_scores_are_accuracy_and_macro_f1_over_three_labels() -> None:
    truth = np.array([0, 0, 1, 2])
    accuracy, macro_f1 = scores(truth, np.array([0, 0, 1, 1]))
    assert accuracy == pytest.approx(0.75)
    # F1: negative 1, neutral 2/3, positive 0.
    assert macro_f1 == pytest.approx((1 + 2 / 3 + 0) / 3)


def synthetic_sentiment(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Labels, LLM scores that lean to the right label, and vectors that carry it."""
    y = rng.integers(0, 3, n)
    raw = rng.dirichlet(np.ones(3), n) + 0.8 * np.eye(3)[y]
    raw /= raw.sum(axis=1, keepdims=True)
    vectors = rng.normal(size=(n, 8)) + 2 * np.eye(3, 8)[y]
    return y, raw, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_sentiment_section_compares_ours_with_the_peers() -> None:
    pytest.importorskip("vaderSentiment", reason="the eval extra is not installed")
    rng = np.random.default_rng(0)
    y_test, raw_test, x_test = synthetic_sentiment(rng, 60)
    y_pool, raw_pool, x_pool = synthetic_sentiment(rng, 150)
    data = SentimentData(raw_test, x_test, y_test, raw_pool, x_pool, y_pool, 0.02, 0.005)
    texts = ["I love it, wonderful!", "Terrible, the worst.", "It leaves at noon."] * 20
    section = evaluate_sentiment(data, texts, label_counts=(30,))
    rows = {(row["method"].split(":")[0].split(" ")[0], row["labels"]): row for row in section.rows}
    assert set(rows) == {
        ("ours", 0),
        ("ours", 30),
        ("ours,", 0),  # the classifier on embeddings alone, without the LLM's features
        ("ours,", 30),
        ("logistic", 30),
        ("VADER", "0 (learns none)"),
        ("raw", "0 (learns none)"),
    }
    raw_row = rows[("raw", "0 (learns none)")]
    assert raw_row["accuracy"] == pytest.approx((raw_test.argmax(axis=1) == y_test).mean())
    assert raw_row["s/item"] == 0.02
    # The LLM's scores lean clearly to the truth: the pipeline must learn from them.
    assert rows[("ours", 0)]["accuracy"] > 0.8
    assert rows[("ours", 0)]["s/item"] >= 0.025
    assert all(0 <= row["macro-F1"] <= 1 for row in section.rows)


def test_each_class_gets_its_f1_and_the_predicted_mix_is_shown() -> None:
    truth = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 2, 0])
    assert class_figures(truth, predicted) == {
        "F1 neg/neu/pos": "0.50/0.67/0.80",
        "predicted mix": "33/33/33 %",
    }


def test_the_reviews_section_is_named_for_its_set() -> None:
    pytest.importorskip("vaderSentiment", reason="the eval extra is not installed")
    rng = np.random.default_rng(1)
    y_test, raw_test, x_test = synthetic_sentiment(rng, 30)
    y_pool, raw_pool, x_pool = synthetic_sentiment(rng, 90)
    data = SentimentData(
        raw_test, x_test, y_test, raw_pool, x_pool, y_pool, 0.02, 0.005, rated=True
    )
    section = evaluate_sentiment(data, ["Fine."] * 30, (), AMAZON_REVIEWS)
    assert (section.name, section.title) == ("sentiment_reviews", AMAZON_REVIEWS.title)
    rated = [row for row in section.rows if row["labels"] == "90 ratings"]
    assert [row["method"] for row in rated] == ["ours, the pool's star ratings as supervision"]
    assert "30 reviews" in section.notes[0] and "stars: 1-2 negative" in section.notes[0]
    assert {row["predicted mix"].endswith(" %") for row in section.rows} == {True}


def test_long_reviews_compare_reading_whole_with_reading_unit_by_unit() -> None:
    truth = np.array([0, 0, 1, 2, 2, 2])
    positive, negative, neutral = [0.2, 0.1, 0.7], [0.7, 0.1, 0.2], [0.3, 0.4, 0.3]
    whole = np.array([positive] * 6)  # read whole, the complaints wash out
    units = np.array([negative, negative, neutral, positive, positive, positive])
    content_free = np.array([[0.5, 0.1, 0.4]])
    data = LongTextScores(truth, whole, units, units, 0.3, 1.1, 3.5, content_free)

    section = evaluate_long_reviews(data)

    rows = {(row["reading"][:12], row["calibration"]): row for row in section.rows}
    readings = ("whole review", "unit by unit", "whole and un")
    assert set(rows) == {(r, c) for r in readings for c in ("none", "content-free")}
    whole_f1 = rows[("whole review", "none")]["macro-F1"]
    assert whole_f1 == pytest.approx(macro_f1(truth, np.full(6, 2)))
    assert rows[("unit by unit", "none")]["macro-F1"] == 1.0
    assert rows[("whole review", "none")]["s/item"] == 0.3
    assert rows[("whole and un", "none")]["s/item"] == pytest.approx(1.4)
    # Divided by the content-free prior, the neutral unit (0.4 against 0.1) stays neutral.
    assert rows[("unit by unit", "content-free")]["predicted mix"] == "33/17/50 %"
    assert "6 reviews longer than 280 characters" in section.notes[0]
    assert "3.5 units a review" in section.notes[0]


def two_aspect_reviews(pairs: list[tuple[str, str]], polarity: str = "positive") -> AspectUnits:
    """Reviews of two sentences, one per aspect of each pair, each sentence one unit."""
    reviews, units = [], []
    for first, second in pairs:
        text = f"About the {first}. About the {second}."
        cut = text.index(" About") + 1
        reviews.append(
            AspectReview(
                text,
                [
                    AspectSentence(0, cut - 1, frozenset({first}), frozenset({polarity})),
                    AspectSentence(cut, len(text), frozenset({second}), frozenset({polarity})),
                ],
            )
        )
        units.append([Unit(0, cut - 1), Unit(cut, len(text))])
    return AspectUnits(reviews, units)


def test_aspects_are_recovered_from_units_where_whole_reviews_mix_them() -> None:
    aspects = ["food", "service", "rooms"]
    pairs = [(aspects[n % 3], aspects[(n + 1 + n // 3 % 2) % 3]) for n in range(90)]
    data = two_aspect_reviews(pairs)
    rng = np.random.default_rng(0)
    directions = {aspect: rng.normal(size=16) for aspect in aspects}
    units = np.array(
        [directions[a] + rng.normal(scale=0.1, size=16) for pair in pairs for a in pair]
    )
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    reviews = units.reshape(90, 2, 16).mean(axis=1)
    reviews /= np.linalg.norm(reviews, axis=1, keepdims=True)

    section = evaluate_aspect_themes(data, reviews, units)

    whole, by_unit, top = section.rows
    assert by_unit["ARI"] > 0.9 > whole["ARI"] + 0.3
    assert by_unit["largest theme"] == pytest.approx(1 / 3, abs=0.05)
    # Each aspect is tight: nothing in it to split, the top level is the specific themes.
    assert top["reading"] == "unit by unit, top-level themes" and top["ARI"] == by_unit["ARI"]
    assert "90 reviews, 180 units; 180 sentences" in section.notes[0]
    assert "go 1 level(s) deep" in section.notes[2]


def test_aspect_sentiment_reads_the_unit_a_sentence_stands_in() -> None:
    data = two_aspect_reviews([("food", "service")] * 2)
    data.reviews[0].sentences[1] = replace(data.reviews[0].sentences[1], polarities={"negative"})
    positive, negative = [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]
    review_scores = np.array([positive, positive])  # the complaint washes out
    unit_scores = np.array([positive, negative, positive, positive])

    section = evaluate_aspect_sentiment(data, review_scores, unit_scores, np.ones((1, 3)))

    rows = {(row["reading"][:10], row["calibration"]): row for row in section.rows}
    assert rows[("the review", "none")]["accuracy"] == 0.75
    assert rows[("the unit i", "none")]["accuracy"] == 1.0
    assert rows[("the unit i", "content-free")]["accuracy"] == 1.0
    assert "4 sentences whose opinions share one polarity (negative 25%" in section.notes[0]


def test_the_cluster_sample_step_compares_a_fit_on_a_sample_with_one_on_every_item() -> None:
    topics = TopicVectors(topics=6, dimensions=16, spread=0.1, seed=2)
    vectors = np.array([topics.near(n % 6) for n in range(600)])
    day = datetime(2026, 11, 2, tzinfo=UTC)
    rows = [
        SyntheticRow(f"mix-{n}", f"text {n}", day + timedelta(days=n % 14), dataset, original)
        for n in range(600)
        for dataset, original in [("banking77" if n % 6 < 3 else "tweets", f"about {n % 6}")]
    ]
    intents = {f"about {topic}": f"intent {topic}" for topic in range(3)}

    section = evaluate_cluster_sample(vectors, mix_truth(rows, intents), sample_items=150)

    full, sampled = section.rows
    assert full["fit"] == "every item" and sampled["fit"].startswith("a stratified sample of 15")
    assert full["ARI vs full fit"] == 1.0 and full["Banking77 ARI"] == 1.0
    # Six tight topics: a quarter of them finds the same six themes, and places the rest.
    assert sampled["themes"] == 6 and sampled["ARI vs full fit"] == 1.0
    assert sampled["Banking77 NMI"] == 1.0 and sampled["data set NMI"] == full["data set NMI"]
    assert "against the intents of the 300 items drawn from it" in section.notes[1]


def test_the_impact_step_ranks_the_themes_that_cost_most_as_a_regression_does() -> None:
    """Nine clear topics of 100 reviews, five rated below the rest by decreasing amounts:
    the product's ranking and the regression's agree on all five, in order."""
    topics = TopicVectors(topics=9, dimensions=16, spread=0.1, seed=3)
    vectors = np.array([topics.near(n % 9) for n in range(900)])
    # Each topic's ratings alternate between two stars: means 1, 1.5, 2, 2.5, 3, then 5.
    pairs = [(1, 1), (1, 2), (1, 3), (2, 3), (2, 4), (5, 5), (5, 5), (5, 5), (5, 5)]
    ratings = [float(pairs[n % 9][(n // 9) % 2]) for n in range(900)]

    section = evaluate_impact(ratings, vectors, np.arange(900))

    assert [row["seed"] for row in section.rows] == [0, 1, 2]
    for row in section.rows:
        assert row["themes"] == 9 and row["stable"] == 9
        assert row["significantly below"] == 5
        assert row["top 5 in common"] == 5 and row["same order"] is True
        assert row["product's top 5"] == "100 100 100 100 100"
        # The four topics rated 5 tie: their order is arbitrary, the rest is not.
        assert row["rank correlation (stable themes)"] > 0.8
    assert "the same ranking of the top five themes" in section.notes[-1]


def test_a_mixed_workspace_reports_the_largest_theme_and_the_themes_that_mix_sources() -> None:
    topics = TopicVectors(topics=6, dimensions=16, spread=0.1, seed=1)
    short = [topics.near(n % 3) for n in range(60)]  # one source: topics 0-2, a point each
    units = [topics.near(3 + k) for _ in range(30) for k in range(3)]  # the other: 3-5 each
    owners = np.array(list(range(60)) + [60 + n // 3 for n in range(90)])
    long_items = [np.mean(units[3 * n : 3 * n + 3], axis=0) for n in range(30)]
    items = np.array(short + [v / np.linalg.norm(v) for v in long_items])
    sources = ["app"] * 60 + ["devices"] * 30

    section = evaluate_mixed_workspace(sources, items, np.array(short + units), owners)

    assert [row["seed"] for row in section.rows] == [0, 1, 2] * 3
    whole, by_unit, per_project = section.rows[0], section.rows[3], section.rows[6]
    assert whole["largest theme's source"] == "devices" and whole["largest theme"] == 1 / 3
    assert by_unit["themes"] == 6 and by_unit["themes mixing the sources"] == 0
    assert by_unit["largest theme"] == pytest.approx(1 / 3)  # each device topic: all 30 reviews
    # A project per source: each clustered apart, the same six themes, none mixing.
    assert per_project["reading"] == "a project per source (unit by unit)"
    assert per_project["themes"] == 6 and per_project["themes mixing the sources"] == 0
    assert "app: 60 items; devices: 30 items, 150 points unit by unit." in section.notes[0]


def test_a_mixed_workspace_says_how_much_each_broad_theme_is_one_source() -> None:
    sources = ["app"] * 4 + ["devices"] * 4
    owners = np.arange(8)
    # Two broad themes: the first all the app's, the second three devices and one app item.
    labels = np.array([0, 1, 2, 3, 3, 4, 4, NO_THEME])
    parents = np.array([0, 0, 0, 1, 1, 1, 1, NO_THEME])
    vectors = np.eye(8)
    split = clustering_module._clustering(vectors, labels, parts=labels, parents=parents)
    whole = mixed_workspace._Placed(split, owners)
    figures = mixed_workspace._broad_figures(sources, owners, [whole])
    assert figures == {"broad themes": 2, "their main source's share": 6 / 7, "levels": 2}
    # The second broad theme split from the first: a third level, and the first holds all.
    deeper = clustering_module._clustering(
        vectors, labels, parts=labels, parents=parents, broad_parents={1: 0}
    )
    figures = mixed_workspace._broad_figures(
        sources, owners, [mixed_workspace._Placed(deeper, owners)]
    )
    assert figures == {
        "broad themes": 2,
        "their main source's share": (3 + 4) / (7 + 4),
        "levels": 3,
    }
    unsplit = clustering_module._clustering(vectors, labels)
    figures = mixed_workspace._broad_figures(
        sources, owners, [mixed_workspace._Placed(unsplit, owners)]
    )
    assert figures["broad themes"] == 0 and figures["levels"] == 1


def test_vader_reads_clear_cases() -> None:
    pytest.importorskip("vaderSentiment", reason="the eval extra is not installed")
    from devtools.evaluation.sentiment import vader_labels

    labels = vader_labels(
        [
            "Great crew, I love this airline!",
            "Worst service ever, awful.",
            "Flight 210 leaves at 5.",
        ]
    )
    assert [LABELS[i] for i in labels] == ["positive", "negative", "neutral"]


def test_label_names_become_indices_in_product_order() -> None:
    assert label_indices(["positive", "negative", "neutral"]).tolist() == [
        LABELS.index("positive"),
        LABELS.index("negative"),
        LABELS.index("neutral"),
    ]


# -- cache -------------------------------------------------------------------------------


def test_a_second_run_reads_outputs_and_timings_from_the_cache(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.array([[len(text), 1.0] for text in texts])

    texts = [f"text {i}" * (i % 5 + 1) for i in range(cache.CHUNK_SIZE + 10)]
    first = cache.cached_outputs(texts, compute, tmp_path, ("model-sha", "prompt-v1"))
    again = cache.cached_outputs(texts, compute, tmp_path, ("model-sha", "prompt-v1"))
    assert calls == [cache.CHUNK_SIZE, 10]
    assert np.array_equal(first.values, again.values)
    assert again.cached_chunks == 2
    assert again.seconds == pytest.approx(first.seconds)
    cache.cached_outputs(texts[:5], compute, tmp_path, ("model-sha", "prompt-v2"))
    assert calls == [cache.CHUNK_SIZE, 10, 5]


def test_cache_keys_differ_by_model_prompt_and_text_boundaries() -> None:
    key = cache.chunk_key("sha", "v1", ["ab", "c"])
    assert key != cache.chunk_key("sha", "v1", ["a", "bc"])
    assert key != cache.chunk_key("sha", "v2", ["ab", "c"])
    assert key != cache.chunk_key("other", "v1", ["ab", "c"])
    assert key == cache.chunk_key("sha", "v1", ["ab", "c"])


# -- pain points -------------------------------------------------------------------------


def test_quotes_are_the_nearest_distinct_texts() -> None:
    texts = ["bag lost", "Bag lost!", "bag late", "seat broken"]
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    quotes = nearest_quotes(texts, vectors, np.array([3, 2, 1, 0]), np.array([1.0, 0.0]), 2)
    assert quotes == [(0, "bag lost"), (2, "bag late")]


def test_failure_reasons_are_counted_without_their_figures() -> None:
    def failed(note: str) -> PainSummary:
        return PainSummary(
            [], SummaryKind.EXTRACTIVE, f"The generated summary was not used: {note}."
        )

    summaries = [
        failed("sentence 1 does not match the quotes it cites (similarity 0.41 < 0.5)"),
        failed("sentence 2 does not match the quotes it cites (similarity 0.32 < 0.5)"),
        failed("sentence 1 mentions Denver, which its quotes do not"),
        failed("it repeats a sentence"),
        PainSummary([{"text": "Users report lost bags.", "item_ids": [1]}], SummaryKind.GENERATED),
    ]
    assert failure_reasons(summaries) == {
        "a sentence does not match the quotes it cites": 2,
        "a sentence mentions Denver": 1,
        "it repeats a sentence": 1,
    }


def test_the_largest_themes_come_first() -> None:
    from insights.pipeline.themes.clustering import Clustering

    labels = np.array([0, 1, 1, 1, 2, 2, NO_THEME])
    clustering = Clustering(labels, np.array([0, 1, 2]), np.eye(3))
    assert largest_themes(clustering, 2) == [1, 2]


LOST_BAGS = [
    f"@AirNorth my bag never arrived in {city}, nobody can tell me where it is"
    for city in ("Denver", "Boston", "Dallas", "Miami", "Seattle", "Atlanta", "Chicago", "Austin")
]
LATE_FLIGHTS = [
    f"@AirNorth flight to {city} delayed {hours} hours and still no news at the gate"
    for city, hours in (
        ("Denver", 2), ("Boston", 3), ("Dallas", 4), ("Miami", 5),
        ("Seattle", 6), ("Atlanta", 2), ("Chicago", 3), ("Austin", 4),
    )
]  # fmt: skip


def test_pain_points_are_measured_over_every_seed_with_the_real_models() -> None:
    from insights.local_models import configured_embedder, configured_llm

    texts = LOST_BAGS + LATE_FLIGHTS
    reasons = ["Lost Luggage"] * len(LOST_BAGS) + ["Late Flight"] * len(LATE_FLIGHTS)
    embedder = configured_embedder()
    progress: list[tuple[int, int]] = []
    section = evaluate_pain_points(
        texts,
        reasons,
        embedder.embed(texts),
        (configured_llm(), embedder),
        lambda done, total: progress.append((done, total)),
    )
    values = {row["measure"]: row["value"] for row in section.rows}
    fewest, most = (int(n) for n in values["themes (ours), fewest and most"].split("-"))
    assert 1 <= fewest <= values["themes (ours), mean"] <= most <= MAX_SUMMARISED_THEMES
    # Every seed's themes are summarised, and progress counts across all of them.
    assert fewest * len(CLUSTER_SEEDS) <= values["themes summarised"]
    assert values["themes summarised"] <= most * len(CLUSTER_SEEDS)
    assert progress[-1] == (values["themes summarised"], values["themes summarised"])
    assert values["share grounded"] == (
        values["summaries passing grounding"] / values["themes summarised"]
    )
    # Two clearly separate complaints: the themes follow them (mean over the seeds).
    assert values["NMI vs negativereason"] > 0.5
    assert "seed 0, 1, 2" in section.notes[0]


# -- report and command ------------------------------------------------------------------


def example_section() -> Section:
    return Section(
        "themes",
        "Themes on Banking77",
        ("method", "ARI", "themes", "seconds"),
        [
            {"method": "ours", "ARI": 0.5512, "themes": 71, "seconds": 21.04},
            {"method": "peer", "ARI": None, "themes": 3, "seconds": 1234.5},
        ],
        ["a note"],
    )


def test_the_table_shows_three_decimals_and_dashes() -> None:
    table = text_table(example_section())
    assert table.splitlines()[0] == "Themes on Banking77"
    assert "0.551" in table
    assert "1,234" in table
    assert "—" in table
    assert table.rstrip().endswith("* a note")
    assert format_value(None) == "—"


def test_the_report_is_written_dated_and_as_latest(tmp_path: Path) -> None:
    run = {"wall seconds": 12.5, "quick": True}
    paths = write_report([example_section()], run, tmp_path, day=date(2026, 11, 23))
    names = sorted(path.name for path in paths)
    assert names == ["eval-2026-11-23.json", "eval-2026-11-23.md", "latest.json", "latest.md"]
    document = json.loads((tmp_path / "latest.json").read_text())
    assert set(document) == {"date", "machine", "run", "sections"}
    assert document["date"] == "2026-11-23"
    assert set(document["machine"]) >= {"cpus", "load_average"}
    themes = document["sections"]["themes"]
    assert themes["rows"][0] == {"method": "ours", "ARI": 0.5512, "themes": 71, "seconds": 21.04}
    markdown = (tmp_path / "eval-2026-11-23.md").read_text()
    assert "| method | ARI | themes | seconds |" in markdown
    assert "| ours | 0.551 | 71 | 21.040 |" in markdown


def test_the_command_reports_a_missing_datasets_folder(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        call_command("evaluate", "--only", "themes", "--datasets", str(tmp_path))


def test_the_alerts_step_finds_the_spike_week_and_counts_the_other_weeks_alerts() -> None:
    """Three topics of 30 complaints a week for twelve weeks; in the tenth, the "cap" topic
    has 150: that week raises a volume spike and the topic's alert, and no other week any."""
    topics = TopicVectors(topics=3, dimensions=16, spread=0.1, seed=2)
    mondays = [date(2015, 4, 6) + timedelta(weeks=n) for n in range(12)]
    texts, days, vectors = [], [], []
    for week, monday in enumerate(mondays):
        for topic, word in enumerate(("data cap", "billing", "outage")):
            for n in range(150 if (week, topic) == (9, 0) else 30):
                texts.append(f"{word} {n}")
                days.append(monday + timedelta(days=n % 7))
                vectors.append(topics.near(topic))

    section = evaluate_alerts(texts, days, np.array(vectors), spike_week=mondays[9])

    by_week = {row["week"]: row["alerts"] for row in section.rows}
    assert len(by_week) == 9  # the first three weeks have too few before them
    assert "volume spike" in by_week[mondays[9].isoformat()]
    assert "theme spike: “data cap" in by_week[mondays[9].isoformat()]
    assert "volume spike and a data-cap theme's alert found" in section.notes[0]
    assert section.notes[1] == "False alarms: 0 in 8 quiet weeks (0.00 a week)."
