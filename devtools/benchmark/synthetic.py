"""Synthetic feedback for the benchmark: N items drawn with replacement from the real texts
of the public data sets, each lightly perturbed so that repeats are distinct texts (the
pipeline embeds each distinct text once), with unique ids and dates over eight weeks."""

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from devtools.evaluation.datasets import DatasetError

# (name, file under the data sets folder, column holding the text)
SOURCE_FILES = (
    ("airline_tweets", Path("airline_tweets") / "tweets.csv", "text"),
    ("banking77", Path("banking77") / "train.csv", "text"),
    (
        "amazon_reviews",
        Path("datafiniti_amazon_reviews")
        / "Datafiniti_Amazon_Consumer_Reviews_of_Amazon_Products.csv",
        "reviews.text",
    ),
    (
        "comcast_complaints",
        Path("comcast_complaints_2015") / "comcast_complaints_fixed_dates.csv",
        "Customer Complaint",
    ),
)
PERIOD = timedelta(weeks=8)
CSV_COLUMNS = ("id", "text", "date", "dataset")
# The perturbations, drawn with equal chance for every item.
PERTURBATIONS = ("drop_word", "repeat_word", "suffix")


@dataclass(frozen=True)
class SourceText:
    dataset: str
    text: str


@dataclass(frozen=True)
class SyntheticRow:
    id: str
    text: str
    date: datetime
    dataset: str
    original: str  # the public text it was drawn from, before the change


def read_source_texts(datasets_dir: Path) -> list[SourceText]:
    """Return every distinct non-empty text of the four public data sets, in file order."""
    texts: list[SourceText] = []
    for name, relative, column in SOURCE_FILES:
        texts += [SourceText(name, text) for text in _column_texts(datasets_dir / relative, column)]
    return texts


def _column_texts(path: Path, column: str) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"{path} does not exist: set FEEDLENS_DATASETS_DIR to the data sets.")
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        if column not in (reader.fieldnames or ()):
            raise DatasetError(f"{path} lacks the column {column!r}.")
        texts = (row[column].strip() for row in reader)
        return list(dict.fromkeys(text for text in texts if text))


def perturb(text: str, kind: str, draw: int, rng: np.random.Generator) -> str:
    """Return text with one light change: a random word dropped (texts of three words or
    more) or repeated, or the suffix " #<draw>"."""
    words = text.split()
    if kind == "drop_word" and len(words) >= 3:
        del words[int(rng.integers(len(words)))]
        return " ".join(words)
    if kind == "repeat_word" and words:
        at = int(rng.integers(len(words)))
        return " ".join([*words[: at + 1], words[at], *words[at + 1 :]])
    return f"{text} #{draw}"


def synthetic_rows(
    sources: Sequence[SourceText],
    n: int,
    end: datetime,
    seed: int = 0,
    id_prefix: str = "bench",
    period: timedelta = PERIOD,
) -> list[SyntheticRow]:
    """Return n rows sampled with replacement from sources and perturbed, with ids
    <id_prefix>-000001…, and dates uniform over the period before end (eight weeks unless
    told), in date order."""
    if not sources:
        raise DatasetError("There are no source texts to build synthetic feedback from.")
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(sources), size=n)
    kinds = rng.integers(len(PERTURBATIONS), size=n)
    offsets = np.sort(rng.uniform(0, period.total_seconds(), size=n))
    start = end - period
    return [
        SyntheticRow(
            id=f"{id_prefix}-{i + 1:06d}",
            text=perturb(sources[pick].text, PERTURBATIONS[kind], i + 1, rng),
            date=start + timedelta(seconds=float(offset)),
            dataset=sources[pick].dataset,
            original=sources[pick].text,
        )
        for i, (pick, kind, offset) in enumerate(zip(picks, kinds, offsets, strict=True))
    ]


def write_csv(rows: Sequence[SyntheticRow], path: Path) -> Path:
    """Write rows as a UTF-8 CSV (id, text, ISO 8601 date, dataset); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([row.id, row.text, row.date.isoformat(), row.dataset])
    return path
