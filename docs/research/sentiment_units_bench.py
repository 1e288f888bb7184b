#!/usr/bin/env python3
"""Sentiment of long feedback: the whole text at once against its sentences one by one
(research, not product code; issue 20, "Sentiment on long text"). See
docs/research/sentiment.md, "Long feedback, sentence by sentence".

Every Amazon device review longer than a post (insights.pipeline.units.SPLIT_ABOVE_CHARS),
stars as truth (1-2 negative, 3 neutral, 4-5 positive). The base model scores each review
whole (cut to MAX_TEXT_BYTES, as the product did) and each of its units; the units' scores are
combined into the review's in several ways, and each is calibrated with the model's
content-free prior (the product's default) and compared by macro-F1. Raw scores are cached
in the evaluation's cache (var/eval/cache), which make eval's sentiment_long step reads.

    cd /work/main && DEBUG=true HF_HUB_OFFLINE=1 .venv/bin/python \
        docs/research/sentiment_units_bench.py
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedlens.settings")
import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from devtools.evaluation.datasets import read_amazon_reviews  # noqa: E402
from insights.local_models import configured_llm  # noqa: E402
from insights.pipeline.sentiment.fitting import calibrate, macro_f1  # noqa: E402
from devtools.evaluation.cache import long_text_units, whole_text_scores  # noqa: E402
from insights.pipeline.sentiment.prompt import (  # noqa: E402
    LABELS,
    combine_readings,
    content_free_scores,
)
from insights.pipeline.units import SPLIT_ABOVE_CHARS, text_units  # noqa: E402

DATASETS = Path(settings.FEEDLENS_DATASETS_DIR)
CACHE_DIR = Path(settings.VAR_DIR) / "eval" / "cache"  # the evaluation's sentiment_long reads it


def combined(units: list[np.ndarray], lengths: list[np.ndarray], how: str) -> np.ndarray:
    rows = []
    for own, chars in zip(units, lengths):
        if how == "mean":
            row = own.mean(axis=0)
        elif how == "length-weighted mean":
            row = (own * chars[:, None]).sum(axis=0) / chars.sum()
        elif how == "opinion-weighted mean":
            weights = 1.0 - own[:, LABELS.index("neutral")]
            row = (own * weights[:, None]).sum(axis=0) / weights.sum()
        elif how == "geometric mean":
            row = np.exp(np.log(np.clip(own, 1e-9, 1)).mean(axis=0))
        rows.append(row / row.sum())
    return np.array(rows)


def report(name: str, raw: np.ndarray, truth: np.ndarray, prior: np.ndarray) -> None:
    for calibration, table in (("raw", raw), ("content-free", calibrate(raw, prior))):
        predicted = table.argmax(axis=1)
        mix = np.bincount(predicted, minlength=3) / len(predicted)
        f1_per = f1_score(truth, predicted, labels=[0, 1, 2], average=None, zero_division=0)
        print(
            f"| {name} | {calibration} | {(predicted == truth).mean():.3f} | "
            f"{macro_f1(truth, predicted):.3f} | {'/'.join(f'{f:.2f}' for f in f1_per)} | "
            f"{'/'.join(f'{m:.0%}' for m in mix)} |"
        )


def main() -> None:
    reviews = read_amazon_reviews(DATASETS)
    keep = [n for n, text in enumerate(reviews.texts) if len(text.strip()) > SPLIT_ABOVE_CHARS]
    texts = [reviews.texts[n] for n in keep]
    truth = np.array([LABELS.index(reviews.labels[n]) for n in keep])
    llm = configured_llm()
    whole = whole_text_scores(texts, llm, CACHE_DIR)
    units = long_text_units(texts, llm, CACHE_DIR)
    lengths = [
        np.array([unit.end - unit.start for unit in text_units(text)], dtype=float)
        for text in texts
    ]
    prior = content_free_scores(llm).mean(axis=0)
    prior = prior / prior.sum()
    print(f"{len(texts)} reviews, {len(units.owners)} units; truth mix "
          + "/".join(f"{m:.0%}" for m in np.bincount(truth, minlength=3) / len(truth)))
    print(f"seconds: whole {whole.seconds:.0f}, units {units.seconds:.0f}")
    print("| scoring | calibration | accuracy | macro-F1 | F1 neg/neu/pos | predicted mix |")
    print("|---|---|---|---|---|---|")
    report("whole review (cut to 1,000 bytes)", whole.values, truth, prior)
    for how in ("mean", "length-weighted mean", "opinion-weighted mean", "geometric mean"):
        report(f"units, {how}", combined(units.scores, lengths, how), truth, prior)
    both = np.array([combine_readings(w, u) for w, u in zip(whole.values, units.scores)])
    report("whole and units' mean, geometric mean (adopted)", both, truth, prior)
    calibrated = [calibrate(own, prior) for own in units.scores]
    flat = np.ones_like(prior) / len(prior)  # already calibrated: report's prior is uniform
    report("units calibrated first, mean", combined(calibrated, lengths, "mean"), truth, flat)
    votes = np.array([np.bincount(own.argmax(axis=1), minlength=3) / len(own) for own in calibrated])
    report("units calibrated first, share of votes", votes + 1e-6 * calibrate(whole.values, prior), truth, flat)


if __name__ == "__main__":
    main()
