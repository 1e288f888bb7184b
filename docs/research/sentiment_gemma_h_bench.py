"""Gemma's hidden state ("gemma_h") as classifier features, on both labelled sets of `make eval`.

docs/research/sentiment_300_bench.py found that Gemma 3 270M's next-token logits right after
the prompt's "Sentiment:" cue, read at ~1,500 token ids and standardised, added 0.03-0.04
macro-F1 on the airline tweets at 300 labels. Gemma ties its output head to the token
embeddings (no soft-capping), so those logits are a linear image of the 640-d final hidden
state, and the label-scoring pass yields them at no extra model call. That was measured on
the tweets only, at 300 labels, with the tweets' most frequent tokens as the token set.
This script measures it on both sets the evaluation uses, at 0 labels, 300 labels and (the
reviews) the pool's star ratings, with a token set that depends on no data set.

Data: exactly `make eval`'s splits and texts (devtools.evaluation.steps.run_sentiment and
run_sentiment_reviews): airline tweets, 1,000 test and 2,000 pool; Amazon device reviews
(stars -> 3 classes), 2,000 test and 2,000 pool; 300 labels = devtools.evaluation.sentiment
.corrections (seeds 0, 1, 2); ratings = every pool review's stars (ours_with_ratings).

One Gemma pass per text, through the product's own loader and code path
(insights.local_models.configured_llm; LocalLLM._evaluate with prefix reuse and _last_logits,
as label_probabilities does), prompt = sentiment_prompt(text).as_completion(). It keeps the
three label probabilities (the whole reading) and the logits at these token-id sets:
- words (fixed, the one a product would store): the first 1,536 vocabulary entries, by id,
  that are a word-initial piece "▁" followed by 3 or more lowercase ASCII letters (ids 506
  "▁the" to 5,542 "▁volume"). Gemma's SentencePiece ids follow merge order, so these are
  common English words and word beginnings; the rule needs only the tokenizer.
- spaced (fixed, comparison): 1,536 evenly spaced ids among the vocabulary's normal tokens
  (any script).
- freq (data-dependent, the research's set): the 1,536 most frequent tokens of the set's
  own test and pool texts.
Long reviews (over 280 characters) are also scored unit by unit, which the product combines
with the whole reading (prompt.score_feedback / combine_readings); that combination is the
product's raw score, the whole pass alone gives the hidden state.

Methods, with the product's own fitting (fit_sentiment / predict_distributions, as
devtools.evaluation.sentiment.ours and ours_with_ratings):
(a) the product: the classifier on MiniLM vectors (the eval's embedder, unit length);
(b) the classifier on [MiniLM, gemma_h], gemma_h = logits standardised with the pool's mean
    and sd, then scaled by sqrt(total variance of MiniLM on the pool / 1,536) so that both
    blocks have the same total variance on the pool;
(c) gemma_h alone (same scaling).
Also the raw LLM argmax, and (a) on the whole-text scores only (how the reviews were scored
before issue 20, i.e. the docs/benchmarks.md "Issue 19" figures).

Caches (.npy / .npz) go to $GEMMA_H_CACHE (default /tmp/gemma_h); a rerun resumes from the
chunks done. GEMMA_H_LIMIT=n (with another GEMMA_H_CACHE) cuts each test and pool to n texts:
a quick check of the script, not a measurement. Results are printed and written to
$GEMMA_H_CACHE/results.md.

    cd /work/main && HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE DEBUG=false SECRET_KEY=x \\
        FEEDLENS_DATASETS_DIR=/work/shared/datasets nice -n 10 \\
        .venv/bin/python docs/research/sentiment_gemma_h_bench.py
"""

import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedlens.settings")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402

from devtools.evaluation.cache import embeddings  # noqa: E402
from devtools.evaluation.datasets import (  # noqa: E402
    read_airline_tweets,
    read_amazon_reviews,
    split_tweets,
)
from devtools.evaluation.sentiment import (  # noqa: E402
    LABEL_SEEDS,
    as_classifier,
    corrections,
    label_indices,
)
from devtools.evaluation.steps import POOL_SIZE, REVIEWS_TEST_SIZE  # noqa: E402
from insights.local_models import configured_embedder, configured_llm  # noqa: E402
from insights.pipeline.sentiment.fitting import (  # noqa: E402
    fit_sentiment,
    predict_distributions,
)
from insights.pipeline.sentiment.prompt import (  # noqa: E402
    LABELS,
    SENTIMENT_PROMPT_VERSION,
    combine_readings,
    content_free_scores,
    feedback_text,
    score_feedback,
    sentiment_prompt,
)
from insights.pipeline.units import text_units  # noqa: E402

CACHE = Path(os.environ.get("GEMMA_H_CACHE", "/tmp/gemma_h"))  # noqa: S108
N_FEATURES = 1536
CHUNK = 250
TWEETS_TEST_SIZE = 1000  # EvaluationConfig.sentiment_sample's default
N_LABELS = 300
BOOTSTRAP_ROUNDS = 1000
FIXED_SET = "words"
TOKEN_SETS = ("words", "spaced", "freq")
OUT: list[str] = []


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def emit(line: str = "") -> None:
    print(line, flush=True)
    OUT.append(line)


# ---------------------------------------------------------------- data: the eval's splits
@dataclass(frozen=True)
class LabelledSet:
    name: str
    test_texts: list[str]
    y_test: np.ndarray
    pool_texts: list[str]
    y_pool: np.ndarray
    rated: bool  # whether the pool's labels are star ratings (a ratings row is run)


def labelled_sets() -> list[LabelledSet]:
    """The test and pool of run_sentiment and run_sentiment_reviews, as they build them."""
    datasets = Path(settings.FEEDLENS_DATASETS_DIR)
    tweets = read_airline_tweets(datasets)
    split = split_tweets(len(tweets.texts), TWEETS_TEST_SIZE, POOL_SIZE)
    texts, labels = np.array(tweets.texts, dtype=object), label_indices(tweets.sentiments)
    sets = [
        LabelledSet(
            "tweets",
            list(texts[split.test]),
            labels[split.test],
            list(texts[split.pool]),
            labels[split.pool],
            rated=False,
        )
    ]
    reviews = read_amazon_reviews(datasets)
    split = split_tweets(len(reviews.texts), REVIEWS_TEST_SIZE, POOL_SIZE)
    texts, labels = np.array(reviews.texts, dtype=object), label_indices(reviews.labels)
    sets.append(
        LabelledSet(
            "reviews",
            list(texts[split.test]),
            labels[split.test],
            list(texts[split.pool]),
            labels[split.pool],
            rated=True,
        )
    )
    limit = int(os.environ.get("GEMMA_H_LIMIT", "0"))  # a quick check of the whole script
    if limit:
        sets = [
            LabelledSet(
                d.name,
                d.test_texts[:limit],
                d.y_test[:limit],
                d.pool_texts[:limit],
                d.y_pool[:limit],
                d.rated,
            )
            for d in sets
        ]
    return sets


# ---------------------------------------------------------------- token-id sets
def vocabulary(llm) -> tuple[list[str], np.ndarray]:
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm._llama.model)
    n = llm._llama.n_vocab()
    pieces = [llama_cpp.llama_vocab_get_text(vocab, i).decode("utf-8", "replace") for i in range(n)]
    attrs = np.array([llama_cpp.llama_vocab_get_attr(vocab, i) for i in range(n)])
    return pieces, attrs


def fixed_token_sets(llm) -> dict[str, np.ndarray]:
    """The two data-independent sets (see the module docstring)."""
    import llama_cpp

    pieces, attrs = vocabulary(llm)
    words = [i for i, p in enumerate(pieces) if re.fullmatch("\u2581[a-z]{3,}", p)][:N_FEATURES]
    normal = np.flatnonzero(attrs == llama_cpp.LLAMA_TOKEN_ATTR_NORMAL)
    spaced = normal[np.linspace(0, len(normal) - 1, N_FEATURES).round().astype(int)]
    log(
        f"token set words: ids {words[0]}..{words[-1]} "
        f"({pieces[words[0]]!r}..{pieces[words[-1]]!r})"
    )
    log(f"token set spaced: {len(normal)} normal tokens, every ~{len(normal) / N_FEATURES:.0f}th")
    return {"words": np.array(words), "spaced": np.unique(spaced)}


def frequent_tokens(llm, texts: list[str]) -> np.ndarray:
    """The research's set: the most frequent tokens of the texts as the prompt shows them."""
    counts: dict[int, int] = {}
    for text in texts:
        for token in llm._llama.tokenize(feedback_text(text).encode(), add_bos=False):
            counts[token] = counts.get(token, 0) + 1
    return np.array(sorted(counts, key=lambda k: -counts[k])[:N_FEATURES])


def cached(name: str, compute) -> np.ndarray:
    path = CACHE / f"{name}.npy"
    if path.exists():
        return np.load(path)
    value = np.asarray(compute())
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, value)
    return value


# ---------------------------------------------------------------- the Gemma pass
def gemma_pass(
    llm, texts: list[str], feature_ids: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(label probabilities n x 3, logits at feature_ids n x k) from one forward pass per
    text, by the product's own path (LocalLLM.label_probabilities, with prefix reuse)."""
    label_ids = [llm._first_token(label) for label in LABELS]
    probs, feats = [], []
    for text in texts:
        llm._evaluate(llm.tokenize(llm.render(sentiment_prompt(text))))
        logits = llm._last_logits()
        z = logits[label_ids].astype(np.float64)
        e = np.exp(z - z.max())
        probs.append(e / e.sum())
        if feature_ids is not None:
            feats.append(logits[feature_ids].astype(np.float32))
    if feature_ids is None:
        return np.array(probs).reshape(-1, 3), np.zeros((len(probs), 0), dtype=np.float32)
    return np.array(probs).reshape(-1, 3), np.array(feats, dtype=np.float32).reshape(
        -1, len(feature_ids)
    )


def chunked_pass(llm, name: str, texts: list[str], feature_ids: np.ndarray | None):
    """gemma_pass over texts in chunks cached under CACHE/chunks (resumable); returns
    (probs, feats, seconds of compute)."""
    folder = CACHE / "chunks"
    folder.mkdir(parents=True, exist_ok=True)
    fid = b"" if feature_ids is None else feature_ids.astype(np.int64).tobytes()
    probs, feats, seconds = [], [], 0.0
    began_all, done_now = time.perf_counter(), 0
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        digest = hashlib.sha256(fid + SENTIMENT_PROMPT_VERSION.encode())
        for text in chunk:
            digest.update(text.encode() + b"\x00")
        path = folder / f"{name}_{start:05d}_{digest.hexdigest()[:16]}.npz"
        if path.exists():
            stored = np.load(path)
        else:
            began = time.perf_counter()
            p, f = gemma_pass(llm, chunk, feature_ids)
            took = time.perf_counter() - began
            np.savez(path.with_suffix(".partial.npz"), probs=p, feats=f, seconds=took)
            path.with_suffix(".partial.npz").replace(path)
            stored = np.load(path)
            done_now += len(chunk)
            rate = (time.perf_counter() - began_all) / done_now
            left = (len(texts) - start - len(chunk)) * rate
            log(
                f"  {name}: {start + len(chunk)}/{len(texts)}, "
                f"{took / len(chunk):.3f} s/item, ~{left / 60:.0f} min left"
            )
        probs.append(stored["probs"])
        feats.append(stored["feats"])
        seconds += float(stored["seconds"])
    if not probs:
        return np.zeros((0, 3)), np.zeros((0, 0), dtype=np.float32), 0.0
    return np.concatenate(probs), np.concatenate(feats), seconds


@dataclass
class Scores:
    raw_whole: np.ndarray  # label probabilities of the whole reading
    raw: np.ndarray  # the product's raw score (whole and units combined for long texts)
    logits: dict[str, np.ndarray]  # token set -> n x 1536 logits
    whole_seconds: float
    unit_seconds: float
    unit_calls: int


def score_set(
    llm, name: str, texts: list[str], union: np.ndarray, sets: dict[str, np.ndarray]
) -> Scores:
    raw_whole, feats, whole_seconds = chunked_pass(llm, f"{name}_whole", texts, union)
    position = {token: i for i, token in enumerate(union)}
    logits = {key: feats[:, [position[t] for t in ids]] for key, ids in sets.items()}
    spans = [text_units(text) for text in texts]
    long = [n for n, units in enumerate(spans) if len(units) > 1]
    unit_texts = [unit.of(texts[n]) for n in long for unit in spans[n]]
    owners = np.array([n for n in long for _ in spans[n]], dtype=int)
    unit_raw, _, unit_seconds = chunked_pass(llm, f"{name}_units", unit_texts, None)
    raw = raw_whole.copy()
    for n in long:
        raw[n] = combine_readings(raw_whole[n], unit_raw[owners == n])
    return Scores(raw_whole, raw, logits, whole_seconds, unit_seconds, len(unit_texts))


# ---------------------------------------------------------------- evaluation
def standardised_block(pool: np.ndarray, test: np.ndarray, minilm_pool: np.ndarray):
    """gemma_h standardised with the pool's mean and sd, scaled so that its total variance on
    the pool equals MiniLM's."""
    mean, sd = pool.mean(axis=0), pool.std(axis=0)
    sd = np.where(sd > 1e-6, sd, 1.0)
    scale = np.sqrt(minilm_pool.var(axis=0).sum() / pool.shape[1])
    return (pool - mean) / sd * scale, (test - mean) / sd * scale


@dataclass(frozen=True)
class Run:
    method: str
    setting: str
    accuracy: list[float]
    f1: list[float]
    per_class: np.ndarray  # mean over seeds
    mix: np.ndarray  # mean over seeds
    fit_seconds: float
    predictions: list[np.ndarray]
    chose: str  # what fit_sentiment chose, per seed


def chosen(fit) -> str:
    """What one fit chose: calibration, then the LLM alone, the product with a weight, or
    the learned stack."""
    if not fit.uses_classifier:
        how = "LLM alone"
    elif "stack" in fit.classifier:
        how = "stack"
    else:
        how = f"w={fit.classifier['llm_weight']:g}"
    return f"{fit.calibration} {how}"


def measure(method, setting, y_test, predictions, fit_seconds, chose="") -> Run:
    per_class = np.mean(
        [f1_score(y_test, p, labels=range(3), average=None, zero_division=0) for p in predictions],
        axis=0,
    )
    mix = np.mean([np.bincount(p, minlength=3) / len(p) for p in predictions], axis=0)
    return Run(
        method,
        setting,
        [accuracy_score(y_test, p) for p in predictions],
        [
            f1_score(y_test, p, labels=range(3), average="macro", zero_division=0)
            for p in predictions
        ],
        per_class,
        mix,
        fit_seconds,
        predictions,
        chose,
    )


def product(raw_pool, vec_pool, raw_test, vec_test, corrected, rated, content_free, force=False):
    """The product's fit and prediction; force: use the fitted classifier even where the
    fit chose the calibrated LLM alone (a diagnostic, not the product)."""
    began = time.perf_counter()
    fit = fit_sentiment(raw_pool, vec_pool, corrected, rated=rated, content_free=content_free)
    took = time.perf_counter() - began
    if force and fit.classifier:
        fit = replace(fit, uses_classifier=True)
    predicted = predict_distributions(raw_test, vec_test, as_classifier(fit)).argmax(axis=1)
    return predicted, took, chosen(fit)


def settings_of(data: LabelledSet):
    """(setting name, [(corrected, rated) per seed]) as the eval runs them."""
    none = np.full(len(data.y_pool), -1)
    out = [
        ("0 labels", [(none, None)]),
        (
            f"{N_LABELS} labels",
            [(corrections(data.y_pool, N_LABELS, s), None) for s in LABEL_SEEDS],
        ),
    ]
    if data.rated:
        out.append((f"{len(data.y_pool):,} ratings", [(none, data.y_pool)]))
    return out


def evaluate(
    data: LabelledSet, sc_test: Scores, sc_pool: Scores, x_test, x_pool, content_free
) -> list[Run]:
    blocks = {
        key: standardised_block(sc_pool.logits[key], sc_test.logits[key], x_pool)
        for key in TOKEN_SETS
    }
    g_pool, g_test = blocks[FIXED_SET]
    vectors = {
        "(a) product: classifier on MiniLM": (x_pool, x_test),
        f"(b) classifier on [MiniLM, gemma_h {FIXED_SET}]": (
            np.hstack([x_pool, g_pool]),
            np.hstack([x_test, g_test]),
        ),
        f"(c) classifier on gemma_h {FIXED_SET} alone": (g_pool, g_test),
    }
    for key in TOKEN_SETS:
        if key != FIXED_SET:
            p, t = blocks[key]
            vectors[f"(b') classifier on [MiniLM, gemma_h {key}]"] = (
                np.hstack([x_pool, p]),
                np.hstack([x_test, t]),
            )
    runs = []
    for setting, per_seed in settings_of(data):
        for method, (v_pool, v_test) in vectors.items():
            preds, fits, chose = [], [], []
            for corrected, rated in per_seed:
                p, took, how = product(
                    sc_pool.raw, v_pool, sc_test.raw, v_test, corrected, rated, content_free
                )
                preds.append(p)
                fits.append(took)
                chose.append(how)
            runs.append(
                measure(method, setting, data.y_test, preds, float(np.mean(fits)), "; ".join(chose))
            )
            log(f"  {data.name} | {setting} | {method} | F1 {np.mean(runs[-1].f1):.3f}")
        if any("LLM alone" in r.chose for r in runs if r.setting == setting):
            for method in list(vectors)[:2]:
                v_pool, v_test = vectors[method]
                fits = [
                    product(
                        sc_pool.raw, v_pool, sc_test.raw, v_test, c, r, content_free, force=True
                    )
                    for c, r in per_seed
                ]
                runs.append(
                    measure(
                        f"{method[:3]} with its classifier forced on (diagnostic)",
                        setting,
                        data.y_test,
                        [f[0] for f in fits],
                        float(np.mean([f[1] for f in fits])),
                        "; ".join(f[2] for f in fits),
                    )
                )
        if not np.allclose(sc_pool.raw, sc_pool.raw_whole):  # long items: the pre-issue-20 scores
            fits = [
                product(sc_pool.raw_whole, x_pool, sc_test.raw_whole, x_test, c, r, content_free)
                for c, r in per_seed
            ]
            runs.append(
                measure(
                    "(a) on whole-text scores only (before issue 20)",
                    setting,
                    data.y_test,
                    [f[0] for f in fits],
                    float(np.mean([f[1] for f in fits])),
                    "; ".join(f[2] for f in fits),
                )
            )
    runs.append(
        measure(
            "raw LLM argmax (the product's raw)",
            "no learning",
            data.y_test,
            [sc_test.raw.argmax(1)],
            0.0,
        )
    )
    if not np.allclose(sc_test.raw, sc_test.raw_whole):
        runs.append(
            measure(
                "raw LLM argmax (whole-text scores)",
                "no learning",
                data.y_test,
                [sc_test.raw_whole.argmax(1)],
                0.0,
            )
        )
    return runs


def percent(shares: np.ndarray) -> str:
    return "/".join(f"{100 * share:.0f}" for share in shares)


def table(data: LabelledSet, runs: list[Run]) -> None:
    shares = np.bincount(data.y_test, minlength=3) / len(data.y_test)
    emit(
        f"\n### {data.name}: test {len(data.y_test):,} (neg/neu/pos {percent(shares)} %), "
        f"pool {len(data.y_pool):,}\n"
    )
    emit(
        "| method | setting | accuracy | macro-F1 | F1 sd | F1 neg/neu/pos | predicted mix | fit s "
        "| fit chose |"
    )
    emit("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        sd = f"{np.std(r.f1):.3f}" if len(r.f1) > 1 else "—"
        emit(
            f"| {r.method} | {r.setting} | {np.mean(r.accuracy):.3f} | {np.mean(r.f1):.3f} "
            f"| {sd} | "
            f"{'/'.join(f'{v:.2f}' for v in r.per_class)} | {percent(r.mix)} % | "
            f"{r.fit_seconds:.2f} | {r.chose} |"
        )


def paired_bootstrap(y, ours, theirs, rounds=BOOTSTRAP_ROUNDS) -> tuple[float, float]:
    """95 % interval of mean-over-seeds macro-F1(ours) - macro-F1(theirs), test items
    resampled (the same resample for every seed)."""
    rng = np.random.default_rng(0)
    found = []
    for _ in range(rounds):
        rows = rng.integers(0, len(y), len(y))
        found.append(
            np.mean(
                [
                    f1_score(y[rows], a[rows], labels=range(3), average="macro", zero_division=0)
                    - f1_score(y[rows], b[rows], labels=range(3), average="macro", zero_division=0)
                    for a, b in zip(ours, theirs, strict=True)
                ]
            )
        )
    low, high = np.percentile(found, [2.5, 97.5])
    return float(low), float(high)


def deltas(data: LabelledSet, runs: list[Run]) -> None:
    """Each variant's macro-F1 minus the product's (a) (a forced row: minus (a) forced),
    seed by seed (same labels), with a paired bootstrap interval over the test items."""
    emit(f"\n{data.name}: macro-F1 minus (a)'s, per seed, 95 % paired bootstrap interval\n")
    emit("| method | setting | mean | per seed | 95 % interval |")
    emit("|---|---|---|---|---|")
    base = {r.setting: r for r in runs if r.method.startswith("(a) product")}
    forced = {r.setting: r for r in runs if r.method.startswith("(a) with its classifier forced")}
    for r in runs:
        if r.setting not in base or r.method.startswith("(a)"):
            continue
        against = forced[r.setting] if "forced" in r.method else base[r.setting]
        d = np.array(r.f1) - np.array(against.f1)
        low, high = paired_bootstrap(data.y_test, r.predictions, against.predictions)
        emit(
            f"| {r.method} | {r.setting} | {d.mean():+.3f} | {' '.join(f'{v:+.3f}' for v in d)} | "
            f"{low:+.3f} to {high:+.3f} |"
        )


def sanity_check(llm, data: LabelledSet, sc_test: Scores) -> None:
    """Our raw scores against the product's score_feedback on a few texts (a long one too)."""
    picks = list(range(5))
    long = [n for n, t in enumerate(data.test_texts) if len(text_units(t)) > 1]
    picks += long[:2]
    found = np.array([f.item for f in score_feedback([data.test_texts[n] for n in picks], llm)])
    gap = np.abs(found - sc_test.raw[picks]).max()
    log(f"  {data.name}: max |ours - score_feedback| over {len(picks)} texts = {gap:.4f}")


def main() -> None:
    import torch

    torch.set_num_threads(2)
    CACHE.mkdir(parents=True, exist_ok=True)
    llm = configured_llm()  # the product's loader: no SIGILL workaround needed (see the report)
    assert not llm.chat_template, "a base model: render() is the plain completion"
    log(f"model {llm.name}, threads {llm.threads}; prompt {SENTIMENT_PROMPT_VERSION}")
    content_free = cached("content_free", lambda: content_free_scores(llm))
    if not all((CACHE / f"tokens_{key}.npy").exists() for key in ("words", "spaced")):
        for key, ids in fixed_token_sets(llm).items():
            np.save(CACHE / f"tokens_{key}.npy", ids)
    fixed = {key: np.load(CACHE / f"tokens_{key}.npy") for key in ("words", "spaced")}
    embedder = configured_embedder()
    results = []
    for data in labelled_sets():
        log(f"{data.name}: test {len(data.test_texts)}, pool {len(data.pool_texts)}")
        n_texts = len(data.pool_texts) + len(data.test_texts)
        freq = cached(
            f"tokens_freq_{data.name}_{n_texts}",
            lambda texts=data.pool_texts + data.test_texts: frequent_tokens(llm, texts),
        )
        sets = {**fixed, "freq": freq}
        union = np.unique(np.concatenate(list(sets.values())))
        sc = {}
        for part, texts in (("test", data.test_texts), ("pool", data.pool_texts)):
            sc[part] = score_set(llm, f"{data.name}_{part}", texts, union, sets)
            np.save(CACHE / f"{data.name}_{part}_raw.npy", sc[part].raw)
            np.save(CACHE / f"{data.name}_{part}_raw_whole.npy", sc[part].raw_whole)
            for key, value in sc[part].logits.items():
                np.save(CACHE / f"{data.name}_{part}_gemma_h_{key}.npy", value)
        embedded = {
            part: embeddings(texts, embedder, CACHE / "eval_cache")
            for part, texts in (("test", data.test_texts), ("pool", data.pool_texts))
        }
        for part in embedded:
            np.save(CACHE / f"{data.name}_{part}_minilm.npy", embedded[part].values)
        sanity_check(llm, data, sc["test"])
        n = len(data.test_texts) + len(data.pool_texts)
        timing = {
            "gemma whole pass s/item": (sc["test"].whole_seconds + sc["pool"].whole_seconds) / n,
            "unit calls": sc["test"].unit_calls + sc["pool"].unit_calls,
            "units s/item (over all items)": (sc["test"].unit_seconds + sc["pool"].unit_seconds)
            / n,
            "MiniLM s/item (test)": embedded["test"].seconds_per_item,
        }
        log(f"  {data.name} timing {timing}")
        runs = evaluate(
            data,
            sc["test"],
            sc["pool"],
            embedded["test"].values,
            embedded["pool"].values,
            content_free,
        )
        results.append((data, runs, timing))
    emit(f"\n## gemma_h on both sets ({time.strftime('%Y-%m-%d')}), token set {FIXED_SET!r}")
    for data, runs, timing in results:
        table(data, runs)
        deltas(data, runs)
        emit(
            "\n- "
            + "; ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in timing.items()
            )
        )
    (CACHE / "results.md").write_text("\n".join(OUT) + "\n")


if __name__ == "__main__":
    main()
