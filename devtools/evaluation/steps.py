"""The evaluation's steps end to end: read a data set, embed and score it (cached), and
measure; each step returns its report section. The evaluate command calls run_evaluation."""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np

from devtools.benchmark.synthetic import read_source_texts, synthetic_rows
from devtools.evaluation.alerts import evaluate_alerts
from devtools.evaluation.aspects import (
    AspectUnits,
    evaluate_aspect_sentiment,
    evaluate_aspect_themes,
)
from devtools.evaluation.cache import (
    embeddings,
    llm_scores,
    long_text_units,
    whole_text_scores,
)
from devtools.evaluation.cards import evaluate_cards, tweet_items
from devtools.evaluation.cluster_sample import (
    MIX_ITEMS,
    evaluate_cluster_sample,
    mix_truth,
)
from devtools.evaluation.datasets import (
    read_airline_tweets,
    read_amazon_reviews,
    read_banking77,
    read_comcast_complaints,
    read_semeval_reviews,
    split_tweets,
)
from devtools.evaluation.demo_themes import demo_texts_and_topics, evaluate_demo_themes
from devtools.evaluation.impact import evaluate_impact
from devtools.evaluation.long_text import LongTextScores, evaluate_long_reviews
from devtools.evaluation.mixed_workspace import evaluate_mixed_workspace
from devtools.evaluation.names import evaluate_names
from devtools.evaluation.pain_points import evaluate_pain_points
from devtools.evaluation.report import Section
from devtools.evaluation.sentiment import (
    AMAZON_REVIEWS,
    SentimentData,
    evaluate_sentiment,
    label_indices,
)
from devtools.evaluation.themes import evaluate_themes
from insights.local_models import configured_embedder, configured_llm
from insights.pipeline.sentiment.prompt import LABELS, combine_readings, content_free_scores
from insights.pipeline.units import SPLIT_ABOVE_CHARS, text_units

# observe(stage, done, total): progress of one named stage.
Observer = Callable[[str, int, int], None]
STEP_NAMES = (
    "themes",
    "names",
    "demo_themes",
    "sentiment",
    "sentiment_reviews",
    "sentiment_long",
    "aspect_themes",
    "aspect_sentiment",
    "mixed_workspace",
    "cluster_sample",
    "impact",
    "alerts",
    "pain_points",
    "cards",
)
# The benchmark mix's dates end here: fixed, so that its weeks (the sample's strata) are too.
MIX_END = datetime(2026, 12, 1, tzinfo=UTC)
# Tweets scored by the language model for the prior and the pseudo-labels: the size the
# product fits on (insights.pipeline.sentiment.stage.FIT_SAMPLE_SIZE) and the research measured.
POOL_SIZE = 2000
# The reviews are 94% positive: a test sample this big holds about 45 negative and 80
# neutral ones, the rest of the 5,000 is the pool.
REVIEWS_TEST_SIZE = 2000
# Corrections tried on the reviews besides none (the airline tweets try more).
REVIEW_LABEL_COUNTS = (300,)


@dataclass(frozen=True)
class EvaluationConfig:
    datasets_dir: Path
    cache_dir: Path
    quick: bool = False
    sentiment_sample: int = 1000


@dataclass(frozen=True)
class TweetSample:
    texts: np.ndarray  # every tweet (object array of str)
    sentiments: np.ndarray  # label index per tweet
    reasons: np.ndarray  # negativereason per tweet
    airlines: np.ndarray
    created: np.ndarray  # tweet_created as written
    test: np.ndarray
    pool: np.ndarray
    x_test: np.ndarray
    embed_seconds_per_item: float


def _stage(observe: Observer | None, name: str) -> Callable[[int, int], None] | None:
    return partial(observe, name) if observe else None


def run_themes(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    data = read_banking77(config.datasets_dir)
    vectors = embeddings(
        data.texts, configured_embedder(), config.cache_dir, _stage(observe, "Banking77 embed")
    )
    return evaluate_themes(
        data.texts, data.labels, vectors.values, config.quick, _stage(observe, "themes")
    )


def run_names(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    data = read_banking77(config.datasets_dir)
    embedder = configured_embedder()
    vectors = embeddings(data.texts, embedder, config.cache_dir, _stage(observe, "Banking77 embed"))
    return evaluate_names(
        data.texts,
        data.labels,
        vectors.values,
        (configured_llm(), embedder),
        _stage(observe, "names"),
    )


def run_demo_themes(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    texts, topics = demo_texts_and_topics()
    vectors = embeddings(
        texts, configured_embedder(), config.cache_dir, _stage(observe, "demo embed")
    )
    return evaluate_demo_themes(texts, topics, vectors.values, _stage(observe, "demo themes"))


def tweet_sample(config: EvaluationConfig, observe: Observer | None = None) -> TweetSample:
    """Return the airline tweets, the seeded split and the test sample's embeddings."""
    tweets = read_airline_tweets(config.datasets_dir)
    split = split_tweets(len(tweets.texts), config.sentiment_sample, POOL_SIZE)
    texts = np.array(tweets.texts, dtype=object)
    embedded = embeddings(
        list(texts[split.test]),
        configured_embedder(),
        config.cache_dir,
        _stage(observe, "tweets embed"),
    )
    return TweetSample(
        texts=texts,
        sentiments=label_indices(tweets.sentiments),
        reasons=np.array(tweets.reasons, dtype=object),
        airlines=np.array(tweets.airlines, dtype=object),
        created=np.array(tweets.created, dtype=object),
        test=split.test,
        pool=split.pool,
        x_test=embedded.values,
        embed_seconds_per_item=embedded.seconds_per_item,
    )


def run_sentiment(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    sample = tweet_sample(config, observe)
    test = (list(sample.texts[sample.test]), sample.sentiments[sample.test])
    pool = (list(sample.texts[sample.pool]), sample.sentiments[sample.pool])
    return evaluate_sentiment(_sentiment_data(config, observe, test, pool), test[0])


def run_sentiment_reviews(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    reviews = read_amazon_reviews(config.datasets_dir)
    split = split_tweets(len(reviews.texts), REVIEWS_TEST_SIZE, POOL_SIZE)
    texts, labels = np.array(reviews.texts, dtype=object), label_indices(reviews.labels)
    test_texts, pool_texts = list(texts[split.test]), list(texts[split.pool])
    data = _sentiment_data(
        config, observe, (test_texts, labels[split.test]), (pool_texts, labels[split.pool])
    )
    data = replace(data, rated=True)  # the labels are what the stars read as
    return evaluate_sentiment(data, test_texts, REVIEW_LABEL_COUNTS, AMAZON_REVIEWS)


def run_sentiment_long(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    reviews = read_amazon_reviews(config.datasets_dir)
    long = [n for n, text in enumerate(reviews.texts) if len(text.strip()) > SPLIT_ABOVE_CHARS]
    texts = [reviews.texts[n] for n in long]
    llm = configured_llm()
    whole = whole_text_scores(texts, llm, config.cache_dir, _stage(observe, "score whole"))
    units = long_text_units(texts, llm, config.cache_dir, _stage(observe, "score units"))
    data = LongTextScores(
        truth=label_indices([reviews.labels[n] for n in long]),
        whole=whole.values,
        units=np.array([scores.mean(axis=0) for scores in units.scores]),
        both=np.array(
            [combine_readings(w, u) for w, u in zip(whole.values, units.scores, strict=True)]
        ),
        whole_seconds=whole.seconds_per_item,
        units_seconds=units.seconds / len(texts),
        units_per_review=len(units.owners) / len(texts),
        content_free=content_free_scores(llm),
    )
    return evaluate_long_reviews(data)


def aspect_units(config: EvaluationConfig) -> AspectUnits:
    reviews = read_semeval_reviews(config.datasets_dir)
    return AspectUnits(reviews, [text_units(review.text) for review in reviews])


def run_aspect_themes(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    data = aspect_units(config)
    embedder = configured_embedder()
    texts = [review.text for review in data.reviews]
    unit_texts = [u.of(text) for text, units in zip(texts, data.units, strict=True) for u in units]
    whole = embeddings(texts, embedder, config.cache_dir, _stage(observe, "embed reviews"))
    units = embeddings(unit_texts, embedder, config.cache_dir, _stage(observe, "embed units"))
    return evaluate_aspect_themes(data, whole.values, units.values)


def run_aspect_sentiment(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    data = aspect_units(config)
    llm = configured_llm()
    texts = [review.text for review in data.reviews]
    whole = whole_text_scores(texts, llm, config.cache_dir, _stage(observe, "score reviews"))
    units = long_text_units(texts, llm, config.cache_dir, _stage(observe, "score units"))
    return evaluate_aspect_sentiment(
        data, whole.values, np.vstack(units.scores), content_free_scores(llm)
    )


def run_mixed_workspace(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    demo, _ = demo_texts_and_topics()
    reviews = read_amazon_reviews(config.datasets_dir).texts
    long = [text for text in reviews if len(text.strip()) > SPLIT_ABOVE_CHARS]
    texts = demo + long
    sources = ["demo budgeting app"] * len(demo) + ["Amazon device reviews"] * len(long)
    embedder = configured_embedder()
    whole = embeddings(texts, embedder, config.cache_dir, _stage(observe, "embed items"))
    units, owners = _theme_points(texts, config, observe)
    return evaluate_mixed_workspace(
        sources, whole.values, units, owners, _stage(observe, "cluster")
    )


def run_impact(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    reviews = read_amazon_reviews(config.datasets_dir)
    units, owners = _theme_points(reviews.texts, config, observe)
    return evaluate_impact(reviews.ratings, units, owners, _stage(observe, "cluster"))


def run_alerts(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    texts, days = read_comcast_complaints(config.datasets_dir)
    vectors = embeddings(texts, configured_embedder(), config.cache_dir, _stage(observe, "embed"))
    return evaluate_alerts(texts, days, vectors.values)


def _theme_points(
    texts: list[str], config: EvaluationConfig, observe: Observer | None
) -> tuple[np.ndarray, np.ndarray]:
    """The points the product clusters (theme_points): a short item its own embedding, a
    long one its units'; with the item each point is of."""
    spans = [text_units(text) if len(text) > SPLIT_ABOVE_CHARS else [] for text in texts]
    points = [
        [u.of(text) for u in units] or [text] for text, units in zip(texts, spans, strict=True)
    ]
    owners = np.array([n for n, found in enumerate(points) for _ in found])
    units = embeddings(
        [text for found in points for text in found],
        configured_embedder(),
        config.cache_dir,
        _stage(observe, "embed units"),
    )
    return units.values, owners


def run_cluster_sample(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    rows = synthetic_rows(
        read_source_texts(config.datasets_dir), MIX_ITEMS, MIX_END, seed=0, id_prefix="mix"
    )
    banking = read_banking77(config.datasets_dir)
    intent_of = {
        text.strip(): intent for text, intent in zip(banking.texts, banking.labels, strict=True)
    }
    vectors = embeddings(
        [row.text for row in rows],
        configured_embedder(),
        config.cache_dir,
        _stage(observe, "embed the mix"),
    )
    truth = mix_truth(rows, intent_of)
    return evaluate_cluster_sample(vectors.values, truth, _stage(observe, "cluster"))


def _sentiment_data(
    config: EvaluationConfig,
    observe: Observer | None,
    test: tuple[list[str], np.ndarray],
    pool: tuple[list[str], np.ndarray],
) -> SentimentData:
    """Return the test and pool texts' LLM scores and embeddings (cached), with labels."""
    llm, embedder = configured_llm(), configured_embedder()
    scored, embedded = [], []
    for name, (texts, _) in (("test", test), ("pool", pool)):
        scored.append(llm_scores(texts, llm, config.cache_dir, _stage(observe, f"score {name}")))
        embedded.append(embeddings(texts, embedder, config.cache_dir, _stage(observe, name)))
    labels = len(LABELS)  # llm_scores' columns: the label scores, then the feature logits
    return SentimentData(
        raw_test=scored[0].values[:, :labels],
        x_test=embedded[0].values,
        y_test=test[1],
        raw_pool=scored[1].values[:, :labels],
        x_pool=embedded[1].values,
        y_pool=pool[1],
        llm_seconds_per_item=(scored[0].seconds + scored[1].seconds)
        / (len(test[0]) + len(pool[0])),
        embed_seconds_per_item=embedded[0].seconds_per_item,
        content_free=content_free_scores(llm),
        features_test=scored[0].values[:, labels:],
        features_pool=scored[1].values[:, labels:],
    )


def run_pain_points(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    sample = tweet_sample(config, observe)
    negative = np.flatnonzero(sample.sentiments[sample.test] == LABELS.index("negative"))
    rows = sample.test[negative]
    return evaluate_pain_points(
        list(sample.texts[rows]),
        list(sample.reasons[rows]),
        sample.x_test[negative],
        (configured_llm(), configured_embedder()),
        _stage(observe, "summaries"),
    )


def run_cards(config: EvaluationConfig, observe: Observer | None = None) -> Section:
    sample = tweet_sample(config, observe)
    negative = np.flatnonzero(sample.sentiments[sample.test] == LABELS.index("negative"))
    rows = sample.test[negative]
    items = tweet_items(
        list(sample.texts[rows]), list(sample.airlines[rows]), list(sample.created[rows])
    )
    return evaluate_cards(
        items,
        list(sample.reasons[rows]),
        sample.x_test[negative],
        (configured_llm(), configured_embedder()),
        _stage(observe, "cards"),
    )


STEPS: dict[str, Callable[[EvaluationConfig, Observer | None], Section]] = {
    "themes": run_themes,
    "names": run_names,
    "demo_themes": run_demo_themes,
    "sentiment": run_sentiment,
    "sentiment_reviews": run_sentiment_reviews,
    "sentiment_long": run_sentiment_long,
    "aspect_themes": run_aspect_themes,
    "aspect_sentiment": run_aspect_sentiment,
    "mixed_workspace": run_mixed_workspace,
    "pain_points": run_pain_points,
    "cards": run_cards,
    "cluster_sample": run_cluster_sample,
    "impact": run_impact,
    "alerts": run_alerts,
}


def run_evaluation(
    config: EvaluationConfig, steps: tuple[str, ...] = STEP_NAMES, observe: Observer | None = None
) -> tuple[list[Section], dict[str, object]]:
    """Run the named steps in order; return their sections and the run's facts (models,
    options, seconds per step and in all)."""
    began = time.perf_counter()
    load_at_start = [round(value, 2) for value in os.getloadavg()]  # timings depend on it
    sections, seconds = [], {}
    for name in steps:
        step_began = time.perf_counter()
        sections.append(STEPS[name](config, observe))
        seconds[name] = round(time.perf_counter() - step_began, 1)
    llm = configured_llm()
    run: dict[str, object] = {
        "steps": ", ".join(steps),
        "quick": config.quick,
        "sentiment sample": config.sentiment_sample,
        "LLM": f"{llm.name} (sha256 {llm.sha256[:12]})",
        "embedder": configured_embedder().name,
        "seconds per step": seconds,
        "wall seconds": round(time.perf_counter() - began, 1),
        "load average at start": load_at_start,
    }
    return sections, run
