#!/usr/bin/env python3
"""Calibration and pseudo-labels at zero labels, on the airline tweets and the Amazon device
reviews (research, not product code). See docs/research/sentiment.md, "Per source,
content-free calibration and ratings".

The evaluation's own splits and cached scores (devtools.evaluation.steps: 1,000 test tweets /
2,000 test reviews, a pool of 2,000 of the others), no labels: fit_sentiment on the pool with
each calibration (the mean over the pool's scores, the model's scores of content-free texts,
none) as the default, and with pseudo-labels equal per class (as before issue 19) or in
proportion to the calibrated model's predictions (the product's from issue 19); macro-F1 and
the predicted mix of the pipeline, and of the calibrated model alone, on the test split.

    cd /work/main && DEBUG=true HF_HUB_OFFLINE=1 .venv/bin/python \
        docs/research/sentiment_calibration_bench.py tweets reviews
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedlens.settings")
import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

import insights.pipeline.sentiment.fitting as fitting  # noqa: E402
from devtools.evaluation.cache import embeddings, llm_scores  # noqa: E402
from devtools.evaluation.datasets import (  # noqa: E402
    read_airline_tweets,
    read_amazon_reviews,
    split_tweets,
)
from devtools.evaluation.sentiment import as_classifier, label_indices  # noqa: E402
from devtools.evaluation.steps import POOL_SIZE, REVIEWS_TEST_SIZE  # noqa: E402
from insights.local_models import configured_embedder, configured_llm  # noqa: E402
from insights.pipeline.sentiment.prompt import content_free_scores  # noqa: E402

CACHE = Path(os.environ.get("EVAL_CACHE", "var/eval/cache"))
DATASETS = Path(os.environ.get("FEEDLENS_DATASETS_DIR", "../shared/datasets"))
IN_PROPORTION = fitting.pseudo_labels


def equal_per_class(calibrated, per_class):
    """The pseudo-labels before issue 19: the per_class surest of each class."""
    labels = np.full(len(calibrated), -1)
    predicted = calibrated.argmax(axis=1)
    for label in range(calibrated.shape[1]):
        rows = np.flatnonzero(predicted == label)
        labels[rows[np.argsort(-calibrated[rows, label], kind="stable")[:per_class]]] = label
    return labels


def split(which):
    if which == "reviews":
        data = read_amazon_reviews(DATASETS)
        texts, labels, test_size = data.texts, data.labels, REVIEWS_TEST_SIZE
    else:
        data = read_airline_tweets(DATASETS)
        texts, labels, test_size = data.texts, data.sentiments, 1000
    chosen = split_tweets(len(texts), test_size, POOL_SIZE)
    texts, labels = np.array(texts, dtype=object), label_indices(labels)
    return [(list(texts[rows]), labels[rows]) for rows in (chosen.test, chosen.pool)]


def main(sets):
    llm, embedder = configured_llm(), configured_embedder()
    content_free = content_free_scores(llm)
    for which in sets:
        (test_texts, truth), (pool_texts, _) = split(which)
        raw_test, raw_pool = (llm_scores(t, llm, CACHE).values for t in (test_texts, pool_texts))
        x_test, x_pool = (embeddings(t, embedder, CACHE).values for t in (test_texts, pool_texts))

        def scored(predicted, truth=truth):
            f1 = f1_score(truth, predicted, labels=[0, 1, 2], average="macro")
            mix = np.bincount(predicted, minlength=3) / len(predicted)
            return f"{f1:.3f} ({'/'.join(str(round(100 * share)) for share in mix)})"

        print(f"{which}: raw argmax {scored(raw_test.argmax(axis=1))}")
        for calibration in ("mean", "content-free", "raw"):
            for name, pseudo in (("equal", equal_per_class), ("in proportion", IN_PROPORTION)):
                fitting.DEFAULT_CALIBRATION, fitting.pseudo_labels = calibration, pseudo
                fitted = fitting.fit_sentiment(
                    raw_pool, x_pool, np.full(len(pool_texts), -1), content_free=content_free
                )
                both = fitting.predict_distributions(raw_test, x_test, as_classifier(fitted))
                alone = fitting.calibrate(raw_test, fitted.prior)
                print(
                    f"  {calibration}, {name}: pipeline {scored(both.argmax(axis=1))}, "
                    f"LLM part alone {scored(alone.argmax(axis=1))}"
                )


if __name__ == "__main__":
    main(sys.argv[1:] or ["tweets", "reviews"])
