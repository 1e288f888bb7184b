"""The shared search index at scale (issue 21): build time, file size, query time and
recall@10 against exact search, on synthetic vectors shaped like feedback embeddings.

No database: the vectors are made here, so a million of them take minutes, not the hours
of importing and embedding a million items. They are clustered as feedback is (topics of
uneven size, items spread around their topic's centre, unit length). The spread is set so
that at 6,700 vectors an item's 10th nearest neighbour is as close as in the feedback
embeddings make eval caches (median cosine 0.58 against 0.51 here at spread 1.0 and 0.74
at 0.6); uniform random vectors, with no near neighbours at all, would understate recall.
"""

import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insights.pipeline.search_index import new_index, open_index, save_version
from llm.cores import available_cores

DIMENSIONS = 384  # all-MiniLM-L6-v2's
TOPICS = 2000
SPREAD = 0.9  # norm of the noise on a unit topic centre, before normalising (see above)
QUERIES = 20
TOP = 10
BUILD_BATCH = 50_000


@dataclass(frozen=True)
class SearchScale:
    items: int
    build_seconds: float
    file_mib: float
    median_ms: float
    p95_ms: float
    recall_at_10: float
    peak_rss_mib: float  # of this process, which also held the vectors to build from


def synthetic_vectors(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(TOPICS, DIMENSIONS)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # Zipf-like topic sizes: a few big themes, a long tail.
    weights = 1 / np.arange(1, TOPICS + 1)
    topic = rng.choice(TOPICS, size=count, p=weights / weights.sum())
    vectors = np.empty((count, DIMENSIONS), dtype=np.float32)
    for start in range(0, count, BUILD_BATCH):
        block = slice(start, start + BUILD_BATCH)
        noise = rng.normal(scale=SPREAD / np.sqrt(DIMENSIONS), size=(len(topic[block]), DIMENSIONS))
        vectors[block] = centres[topic[block]] + noise.astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def measure_search_scale(count: int, seed: int = 0) -> SearchScale:
    # The queries are more of the same feedback, held out of the index.
    drawn = synthetic_vectors(count + QUERIES, seed)
    vectors, queries = drawn[:count], drawn[count:]
    keys = np.arange(count, dtype=np.int64)
    started = time.perf_counter()
    index = new_index(DIMENSIONS)
    for start in range(0, count, BUILD_BATCH):
        block = slice(start, start + BUILD_BATCH)
        index.add(keys[block], vectors[block], threads=available_cores())
    with tempfile.TemporaryDirectory() as folder:
        path = save_version(index, Path(folder))
        build = time.perf_counter() - started
        del index
        mapped = open_index(path)
        times, recalls = [], []
        for query in queries:
            began = time.perf_counter()
            found, _ = mapped.nearest(query, TOP)
            times.append(1000 * (time.perf_counter() - began))
            exact = np.argpartition(-(vectors @ query), TOP)[:TOP]
            recalls.append(len(set(found.tolist()) & set(exact.tolist())) / TOP)
        size = path.stat().st_size / 2**20
    return SearchScale(
        items=count,
        build_seconds=round(build, 1),
        file_mib=round(size, 1),
        median_ms=round(float(np.median(times)), 2),
        p95_ms=round(float(np.percentile(times, 95)), 2),
        recall_at_10=round(float(np.mean(recalls)), 3),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    )
