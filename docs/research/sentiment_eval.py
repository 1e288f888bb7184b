"""Evaluate the product sentiment pipeline (insights/sentiment.py) on the airline tweets.

Uses the module's pure pieces (prompt, scoring, prior, pseudo-labels, classifier, fusion,
cross-validated choice) on arrays: no database. Same split as sentiment_bench.py:
duplicate tweet_ids dropped, test = 1,000 tweets (permutation seed 0), pool = 2,000 of the
remaining tweets (seed 123), scored by the LLM and used unlabeled for the prior and the
pseudo-labels; the 300-label setting takes 300 pool tweets (seeds 0-2) as corrections.

    HF_HUB_OFFLINE=1 DEBUG=false SECRET_KEY=x .venv/bin/python docs/research/sentiment_eval.py

Scores and embeddings are cached under $SENTI_EVAL_CACHE (default /tmp/senti_eval_cache).
"""

import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedlens.settings")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # llama.cpp spin-waits on a shared box
import django  # noqa: E402

django.setup()

from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from insights.pipeline.sentiment import stage as s  # noqa: E402
from insights.local_models import configured_llm  # noqa: E402
from insights.models import SentimentClassifier  # noqa: E402
from llm.embeddings import load_embedder  # noqa: E402
from llm.prompts import FewShotPrompt  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "shared/datasets/airline_tweets/tweets.csv"
CACHE = Path(os.environ.get("SENTI_EVAL_CACHE", "/tmp/senti_eval_cache"))
N_TEST, N_POOL, N_LABELS, SEEDS = 1000, 2000, 300, (0, 1, 2)
RESULTS: list[tuple[str, str, str, str, str]] = []


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    seen, texts, ys = set(), [], []
    with DATA.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["tweet_id"] in seen:
                continue
            seen.add(row["tweet_id"])
            texts.append(row["text"])
            ys.append(s.LABELS.index(row["airline_sentiment"]))
    perm = np.random.RandomState(0).permutation(len(texts))
    pool = np.random.RandomState(123).permutation(perm[N_TEST:])[:N_POOL]
    return np.array(texts, dtype=object), np.array(ys), perm[:N_TEST], pool


def cached(name: str, compute) -> np.ndarray:
    path = CACHE / f"{name}.npy"
    if path.exists():
        return np.load(path)
    value = compute()
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, value)
    return value


def score_timed(texts: list[str], prompt_for=None) -> np.ndarray:
    llm = configured_llm()
    start = time.perf_counter()
    if prompt_for is None:
        raw = s.score_texts(texts, llm)
    else:
        rows = [llm.label_probabilities(llm.render(prompt_for(t)), s.LABELS) for t in texts]
        raw = np.array([[r[label] for label in s.LABELS] for r in rows])
    took = time.perf_counter() - start
    print(
        f"  scored {len(texts)} texts in {took:.1f}s: {len(texts) / took:.1f} items/s", flush=True
    )
    return raw


def report(setting: str, method: str, y: np.ndarray, distributions: list, note: str = "") -> None:
    """distributions: one prediction matrix per seed."""
    f1s = [f1_score(y, d.argmax(axis=1), average="macro") for d in distributions]
    accs = [accuracy_score(y, d.argmax(axis=1)) for d in distributions]

    def fmt(values: list[float]) -> str:
        return f"{np.mean(values):.3f}" + (f" ± {np.std(values):.3f}" if len(values) > 1 else "")

    RESULTS.append((setting, method, fmt(f1s), fmt(accs), note))
    print(f"{setting} | {method} | F1 {fmt(f1s)} | acc {fmt(accs)} | {note}", flush=True)


def as_row(fitted: s.SentimentFit) -> SentimentClassifier:
    return SentimentClassifier(
        prior=dict(zip(s.LABELS, fitted.prior.tolist(), strict=True)),
        classifier=fitted.classifier,
        uses_classifier=fitted.uses_classifier,
    )


def zero_labels(raw_pool, x_pool, raw_test, x_test, yt) -> None:
    fitted = s.fit_sentiment(raw_pool, x_pool, np.full(len(raw_pool), -1))
    calibrated = s.calibrate(raw_test, fitted.prior)
    lr = s.logistic_probabilities(fitted.classifier, x_test)
    note = f"prior {np.round(fitted.prior, 3).tolist()}, {fitted.pseudo_labels} pseudo-labels"
    report("0 labels", "LLM raw argmax", yt, [raw_test])
    report("0 labels", "LLM calibrated (UP)", yt, [calibrated], note)
    report("0 labels", "LR on pseudo-labels alone", yt, [lr])
    report(
        "0 labels",
        "product: LR + LLM fused",
        yt,
        [s.predict_distributions(raw_test, x_test, as_row(fitted))],
    )


def labeled_pool(seed: int, y_pool: np.ndarray) -> np.ndarray:
    corrected = np.full(len(y_pool), -1)
    chosen = np.random.RandomState(1000 + seed).choice(len(y_pool), N_LABELS, replace=False)
    corrected[chosen] = y_pool[chosen]
    return corrected


def three_hundred_labels(raw_pool, x_pool, y_pool, raw_test, x_test, yt) -> None:
    for weight in (1.0, 3.0):
        preds, notes = [], []
        for seed in SEEDS:
            fitted = s.fit_sentiment(raw_pool, x_pool, labeled_pool(seed, y_pool), correction_weight=weight)
            preds.append(s.predict_distributions(raw_test, x_test, as_row(fitted)))
            how = "stacked" if "stack" in fitted.classifier else "fused"
            notes.append(
                f"{how if fitted.uses_classifier else 'LLM'} "
                f"w={fitted.classifier.get('llm_weight')} "
                f"cv {fitted.llm_accuracy:.2f}/{fitted.combined_accuracy:.2f}"
            )
        report(
            "300 labels", f"product (corrections weight {weight:g})", yt, preds, "; ".join(notes)
        )
    # Without pseudo-labels: the corrections alone train the classifier.
    preds = []
    for seed in SEEDS:
        corrected = labeled_pool(seed, y_pool)
        rows = corrected >= 0
        fitted = s.fit_sentiment(raw_pool[rows], x_pool[rows], corrected[rows])
        fitted = s.SentimentFit(
            s.fit_prior(raw_pool),
            fitted.classifier,
            0,
            fitted.corrections,
            fitted.llm_accuracy,
            fitted.combined_accuracy,
            True,
        )
        preds.append(s.predict_distributions(raw_test, x_test, as_row(fitted)))
    report("300 labels", "corrections only (no pseudo-labels), fused", yt, preds)


def stacked(raw_pool, x_pool, y_pool, raw_test, x_test, yt) -> None:
    """Cheap idea: learn the fusion from the corrections. A small LR on the LLM's log-probs
    and the embedding classifier's log-probs (out-of-fold on the corrections)."""
    from sklearn.linear_model import LogisticRegression

    preds = {"LLM log-probs only (label-trained calibration)": [], "LLM + embedding LR": []}
    for seed in SEEDS:
        corrected = labeled_pool(seed, y_pool)
        fitted = s.fit_sentiment(raw_pool, x_pool, corrected)
        labels = s.pseudo_labels(
            s.calibrate(raw_pool, fitted.prior), s.pseudo_labels_per_class(len(raw_pool))
        )
        labels = np.where(corrected >= 0, corrected, labels)
        rows = np.flatnonzero(corrected >= 0)
        out_of_fold = np.zeros((len(rows), 3))
        for _, held in s._folds(corrected[rows]):
            training = labels >= 0
            training[rows[held]] = False
            model = s.fit_logistic(x_pool[training], labels[training], np.ones(training.sum()))
            out_of_fold[held] = s.logistic_probabilities(model, x_pool[rows[held]])
        test_emb = s.logistic_probabilities(fitted.classifier, x_test)
        for name, train_f, test_f in (
            (
                "LLM log-probs only (label-trained calibration)",
                np.log(raw_pool[rows]),
                np.log(raw_test),
            ),
            (
                "LLM + embedding LR",
                np.hstack([np.log(raw_pool[rows]), np.log(out_of_fold)]),
                np.hstack([np.log(raw_test), np.log(test_emb)]),
            ),
        ):
            stack = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
            stack.fit(train_f, corrected[rows])
            preds[name].append(stack.predict_proba(test_f))
    for name, values in preds.items():
        report("300 labels", f"stacked: {name}", yt, values)


def typical_examples(seed: int, texts, y_pool, x_pool, pool) -> tuple[tuple[str, str], ...]:
    """3 labeled tweets per class nearest their class centre, interleaved like the prompt."""
    corrected = labeled_pool(seed, y_pool)
    per_class = []
    for label in range(3):
        rows = np.flatnonzero(corrected == label)
        centre = x_pool[rows].mean(axis=0)
        nearest = rows[np.argsort(-(x_pool[rows] @ centre))[:3]]
        per_class.append([(s.feedback_text(texts[pool[r]]), s.LABELS[label]) for r in nearest])
    order = [(0, 0), (2, 0), (1, 0), (0, 1), (2, 1), (1, 1), (0, 2), (1, 2), (2, 2)]
    return tuple(per_class[c][i] for c, i in order)


def labeled_prompt(raw_pool, x_pool, y_pool, raw_test, x_test, yt, texts, pool, test) -> None:
    """Cheap idea: labeled tweets as the few-shot examples (static, so prefix reuse holds)."""
    examples = typical_examples(0, texts, y_pool, x_pool, pool)

    def prompt_for(text: str) -> FewShotPrompt:
        return FewShotPrompt(
            instruction=s.SENTIMENT_INSTRUCTION,
            examples=tuple((s.SENTIMENT_CUE.format(text=t), f" {lab}") for t, lab in examples),
            query=s.SENTIMENT_CUE.format(text=s.feedback_text(text)),
        )

    raw_pool_l = cached("labeled_prompt_pool", lambda: score_timed(list(texts[pool]), prompt_for))
    raw_test_l = cached("labeled_prompt_test", lambda: score_timed(list(texts[test]), prompt_for))
    prior = s.fit_prior(raw_pool_l)
    report(
        "300 labels (seed 0)",
        "labeled-example prompt: LLM calibrated",
        yt,
        [s.calibrate(raw_test_l, prior)],
    )
    fitted = s.fit_sentiment(raw_pool_l, x_pool, labeled_pool(0, y_pool))
    report(
        "300 labels (seed 0)",
        "labeled-example prompt: product pipeline",
        yt,
        [s.predict_distributions(raw_test_l, x_test, as_row(fitted))],
        "stacked" if "stack" in fitted.classifier else "fused",
    )


def knn_prompt(raw_pool, x_pool, y_pool, raw_test, x_test, yt, texts, pool, test) -> None:
    """Cheap idea (not so cheap in time): per item, the 9 nearest labeled tweets as the
    few-shot examples (farthest first). No prefix reuse, so scored on a test subset only;
    the labeled items are scored leave-one-out to train a stacked combination."""
    from sklearn.linear_model import LogisticRegression

    corrected = labeled_pool(0, y_pool)
    rows = np.flatnonzero(corrected >= 0)
    subset = np.arange(300)

    def prompt_for_vector(vector, text, exclude=-1) -> FewShotPrompt:
        sims = x_pool[rows] @ vector
        if exclude >= 0:
            sims[exclude] = -np.inf
        nearest = rows[np.argsort(-sims)[:9]][::-1]
        examples = tuple(
            (
                s.SENTIMENT_CUE.format(text=s.feedback_text(texts[pool[r]])),
                f" {s.LABELS[y_pool[r]]}",
            )
            for r in nearest
        )
        return FewShotPrompt(
            s.SENTIMENT_INSTRUCTION, examples, s.SENTIMENT_CUE.format(text=s.feedback_text(text))
        )

    def score(prompts: list[FewShotPrompt]) -> np.ndarray:
        llm = configured_llm()
        start = time.perf_counter()
        out = [llm.label_probabilities(llm.render(p), s.LABELS) for p in prompts]
        took = time.perf_counter() - start
        print(f"  kNN prompts: {len(prompts)} in {took:.0f}s ({len(prompts) / took:.1f}/s)")
        return np.array([[o[label] for label in s.LABELS] for o in out])

    raw_lab = cached(
        "knn_labeled",
        lambda: score(
            [prompt_for_vector(x_pool[r], texts[pool[r]], exclude=i) for i, r in enumerate(rows)]
        ),
    )
    raw_sub = cached(
        "knn_test300", lambda: score([prompt_for_vector(x_test[i], texts[test[i]]) for i in subset])
    )
    truth = corrected[rows]
    report("300 labels (seed 0, test[:300])", "kNN prompt: raw argmax", yt[subset], [raw_sub])
    calib = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    calib.fit(np.log(raw_lab), truth)
    report(
        "300 labels (seed 0, test[:300])",
        "kNN prompt: label-trained calibration",
        yt[subset],
        [calib.predict_proba(np.log(raw_sub))],
    )
    fitted = s.fit_sentiment(raw_pool, x_pool, corrected)
    report(
        "300 labels (seed 0, test[:300])",
        "product pipeline (static prompt), same subset",
        yt[subset],
        [s.predict_distributions(raw_test[subset], x_test[subset], as_row(fitted))],
    )
    emb = s.logistic_probabilities(fitted.classifier, x_test[subset])
    lab_emb = s._out_of_fold_probabilities(
        x_pool, np.where(corrected >= 0, corrected, -1), rows, np.ones(len(x_pool))
    )
    stack = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    stack.fit(np.hstack([np.log(raw_lab), np.log(lab_emb)]), truth)
    report(
        "300 labels (seed 0, test[:300])",
        "kNN prompt + embedding LR, stacked",
        yt[subset],
        [stack.predict_proba(np.hstack([np.log(raw_sub), np.log(emb)]))],
    )


def main() -> None:
    texts, ys, test, pool = load_data()
    yt, y_pool = ys[test], ys[pool]
    print(f"{len(texts)} tweets; test {len(test)} {np.bincount(yt) / len(yt)}; pool {len(pool)}")
    version = s.SENTIMENT_PROMPT_VERSION
    raw_test = cached(f"{version}_test", lambda: score_timed(list(texts[test])))
    raw_pool = cached(f"{version}_pool", lambda: score_timed(list(texts[pool])))
    embedder = load_embedder("")
    x_test = cached("emb_test", lambda: embedder.embed(list(texts[test])))
    x_pool = cached("emb_pool", lambda: embedder.embed(list(texts[pool])))
    zero_labels(raw_pool, x_pool, raw_test, x_test, yt)
    three_hundred_labels(raw_pool, x_pool, y_pool, raw_test, x_test, yt)
    stacked(raw_pool, x_pool, y_pool, raw_test, x_test, yt)
    if os.environ.get("SENTI_EVAL_LABELED_PROMPT", "1") == "1":
        labeled_prompt(raw_pool, x_pool, y_pool, raw_test, x_test, yt, texts, pool, test)
    if os.environ.get("SENTI_EVAL_KNN", "0") == "1":
        knn_prompt(raw_pool, x_pool, y_pool, raw_test, x_test, yt, texts, pool, test)
    print("\n| setting | method | macro-F1 | accuracy | note |\n|---|---|---|---|---|")
    for row in RESULTS:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
