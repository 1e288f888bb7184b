"""On-disk cache of per-text model outputs (language-model scores, embeddings), so that a
second `make eval` skips the slow part.

Texts are cached in chunks: a file per chunk, named by the model (sha256 or name), the
prompt version and a hash of the chunk's texts. An interrupted first run keeps the chunks it
finished. Each file also keeps the seconds the chunk took, so timings survive a re-run.
"""

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from insights.pipeline.sentiment.prompt import (
    SENTIMENT_PROMPT_VERSION,
    score_feedback,
    score_texts,
)
from insights.pipeline.units import text_units
from llm.interfaces import LabelScorer, TextEmbedder

# Texts a cache file: small enough that an interruption loses little, large enough that the
# folder stays small (3,000 tweets: 12 files a model).
CHUNK_SIZE = 250

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CachedOutputs:
    values: np.ndarray  # one row per text, in order
    seconds: float  # compute time of every chunk, whether computed now or read back
    cached_chunks: int
    chunks: int

    @property
    def seconds_per_item(self) -> float:
        return self.seconds / max(1, len(self.values))


def chunk_key(model: str, prompt_version: str, texts: Sequence[str]) -> str:
    """Return the cache file name for these texts under this model and prompt version."""
    digest = hashlib.sha256()
    for part in (model, prompt_version, *texts):
        digest.update(part.encode())
        digest.update(b"\x00")  # keeps ("ab", "c") apart from ("a", "bc")
    return digest.hexdigest()[:32]


def cached_outputs(
    texts: Sequence[str],
    compute: Callable[[Sequence[str]], np.ndarray],
    cache_dir: Path,
    key: tuple[str, str],
    on_progress: Progress | None = None,
) -> CachedOutputs:
    """Return compute(texts), reading each chunk from cache_dir when a run before stored it;
    key is (model, prompt version). on_progress(done, total) follows the texts."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    parts: list[np.ndarray] = []
    seconds, hits, chunks = 0.0, 0, 0
    for start in range(0, len(texts), CHUNK_SIZE):
        chunk = texts[start : start + CHUNK_SIZE]
        path = cache_dir / f"{chunk_key(*key, chunk)}.npz"
        if path.exists():
            stored = np.load(path)
            values, took = stored["values"], float(stored["seconds"])
            hits += 1
        else:
            began = time.perf_counter()
            values = np.asarray(compute(chunk))
            took = time.perf_counter() - began
            # Written under another name and renamed: an interrupted write leaves no
            # half file that a later run would read.
            partial = path.with_suffix(".partial.npz")
            np.savez(partial, values=values, seconds=took)
            partial.replace(path)
        parts.append(values)
        seconds += took
        chunks += 1
        if on_progress:
            on_progress(start + len(chunk), len(texts))
    values = np.concatenate(parts) if parts else np.zeros((0, 0))
    return CachedOutputs(values, seconds, hits, chunks)


def llm_scores(
    texts: Sequence[str], llm: LabelScorer, cache_dir: Path, on_progress: Progress | None = None
) -> CachedOutputs:
    """Return the product's raw sentiment scores (insights.pipeline.sentiment.prompt
    .score_feedback: long texts unit by unit) per text, then its feature logits, in one row
    per text; cached by model file sha256 and prompt version."""
    key = (llm.sha256, SENTIMENT_PROMPT_VERSION)
    return cached_outputs(texts, partial(_item_scores, llm=llm), cache_dir, key, on_progress)


def _item_scores(texts: Sequence[str], llm: LabelScorer) -> np.ndarray:
    return np.array(
        [np.hstack([found.item, found.features]) for found in score_feedback(texts, llm)]
    )


def whole_text_scores(
    texts: Sequence[str], llm: LabelScorer, cache_dir: Path, on_progress: Progress | None = None
) -> CachedOutputs:
    """Return the raw sentiment scores of each text read whole (cut to the prompt's
    MAX_TEXT_BYTES): how the product reads one unit, and how it read every item before
    issue 20, the baseline of unit-by-unit scoring."""
    key = (llm.sha256, f"whole-text-{SENTIMENT_PROMPT_VERSION}")
    return cached_outputs(texts, partial(score_texts, llm=llm), cache_dir, key, on_progress)


def embeddings(
    texts: Sequence[str],
    embedder: TextEmbedder,
    cache_dir: Path,
    on_progress: Progress | None = None,
) -> CachedOutputs:
    """Return the embedder's unit vectors per text, cached by model name."""
    key = (embedder.name, "embedding")
    return cached_outputs(texts, embedder.embed, cache_dir, key, on_progress)


@dataclass(frozen=True)
class UnitScores:
    owners: np.ndarray  # the text each unit is of, in order
    scores: list[np.ndarray]  # per text, its units' raw scores, one row each
    seconds: float


def long_text_units(
    texts: Sequence[str], llm: LabelScorer, cache_dir: Path, on_progress: Progress | None = None
) -> UnitScores:
    """Return the raw sentiment scores of every unit of each text (insights.pipeline.units),
    cached as whole_text_scores of the units' texts: what score_feedback combines."""
    spans = [text_units(text) for text in texts]
    unit_texts = [unit.of(text) for text, units in zip(texts, spans, strict=True) for unit in units]
    owners = np.array([n for n, units in enumerate(spans) for _ in units])
    scored = whole_text_scores(unit_texts, llm, cache_dir, on_progress)
    per_text = [scored.values[owners == n] for n in range(len(texts))]
    return UnitScores(owners, per_text, scored.seconds)
