"""Readers for the labeled public data sets under settings.FEEDLENS_DATASETS_DIR, and the
fixed seeded split of the airline tweets that the sentiment and pain-point steps share."""

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from ingestion.ratings import RatingScale
from insights.pipeline.sentiment.ratings import RatingBounds

BANKING77_FILE = Path("banking77") / "train.csv"
AIRLINE_TWEETS_FILE = Path("airline_tweets") / "tweets.csv"
COMCAST_FILE = Path("comcast_complaints_2015") / "comcast_complaints_fixed_dates.csv"
AMAZON_REVIEWS_FILE = (
    Path("datafiniti_amazon_reviews") / "Datafiniti_Amazon_Consumer_Reviews_of_Amazon_Products.csv"
)

SEMEVAL_REVIEW_FILES = {
    "restaurant": Path("semeval_absa") / "semeval2015_restaurants_sentences.csv",
    "hotel": Path("semeval_absa") / "semeval2015_hotels_sentences.csv",
}


class DatasetError(ValueError):
    """A data set file that is missing, lacks a column the evaluation reads, or is too small
    for the sample asked for."""


@dataclass(frozen=True)
class LabeledTexts:
    texts: list[str]
    labels: list[str]
    ratings: list[float] = field(default_factory=list)  # where the labels come from stars


@dataclass(frozen=True)
class Tweets:
    texts: list[str]
    sentiments: list[str]  # negative, neutral or positive
    reasons: list[str]  # negativereason: "" unless the tweet is negative
    airlines: list[str]  # "" where the file has no airline column
    created: list[str]  # tweet_created as written ("2/24/2015 11:35"), "" where absent


@dataclass(frozen=True)
class TweetSplit:
    test: np.ndarray  # indices of the labeled sample the scores are measured on
    pool: np.ndarray  # indices of the unlabeled pool the pipeline is fitted on


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetError(
            f"{path} does not exist: set FEEDLENS_DATASETS_DIR or pass --datasets to the "
            "folder that holds the public data sets."
        )
    with path.open(newline="", encoding="utf-8-sig") as file:  # some carry a BOM
        reader = csv.DictReader(file)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path} lacks the column(s) {', '.join(sorted(missing))}.")
        return list(reader)


def read_banking77(datasets_dir: Path) -> LabeledTexts:
    """Return every Banking77 training text with its intent (10,003 rows, repeats kept)."""
    rows = _rows(Path(datasets_dir) / BANKING77_FILE, ("text", "category"))
    return LabeledTexts([row["text"] for row in rows], [row["category"] for row in rows])


def read_airline_tweets(datasets_dir: Path) -> Tweets:
    """Return the airline tweets once per tweet_id (the file repeats 155 of them), in file
    order, with their sentiment and negative reason."""
    columns = ("tweet_id", "text", "airline_sentiment", "negativereason")
    seen: set[str] = set()
    kept: list[dict[str, str]] = []
    for row in _rows(Path(datasets_dir) / AIRLINE_TWEETS_FILE, columns):
        if row["tweet_id"] not in seen:
            seen.add(row["tweet_id"])
            kept.append(row)
    return Tweets(
        texts=[row["text"] for row in kept],
        sentiments=[row["airline_sentiment"] for row in kept],
        reasons=[row["negativereason"] for row in kept],
        airlines=[row.get("airline", "") for row in kept],
        created=[row.get("tweet_created", "") for row in kept],
    )


def read_comcast_complaints(datasets_dir: Path) -> tuple[list[str], list[date]]:
    """Return the Comcast complaints' subjects with the day each was filed (the data set's
    dates with day and month put right, date_fixed)."""
    rows = _rows(Path(datasets_dir) / COMCAST_FILE, ("Customer Complaint", "date_fixed"))
    return (
        [row["Customer Complaint"] for row in rows],
        [date.fromisoformat(row["date_fixed"]) for row in rows],
    )


def read_amazon_reviews(datasets_dir: Path) -> LabeledTexts:
    """Return the Amazon device reviews' texts with their star rating as a sentiment: 1-2
    stars negative, 3 neutral, 4-5 positive (rows without a text or a rating left out)."""
    rows = _rows(Path(datasets_dir) / AMAZON_REVIEWS_FILE, ("reviews.text", "reviews.rating"))
    texts, labels, ratings = [], [], []
    stars = RatingBounds.of_scale(RatingScale.STARS)
    for row in rows:
        text, rating = row["reviews.text"].strip(), row["reviews.rating"].strip()
        if text and rating:
            texts.append(text)
            ratings.append(float(rating))
            labels.append(stars.label(float(rating)))
    return LabeledTexts(texts, labels, ratings)


@dataclass(frozen=True)
class AspectSentence:
    start: int  # where it stands in its review's text
    end: int
    aspects: frozenset[str]  # "restaurant FOOD": the domain and the entity it speaks to
    polarities: frozenset[str]  # of its opinions: negative, neutral, positive


@dataclass(frozen=True)
class AspectReview:
    text: str  # its sentences, joined by a space as its customer wrote them
    sentences: list[AspectSentence]


def read_semeval_reviews(datasets_dir: Path) -> list[AspectReview]:
    """Return the SemEval-2015 restaurant and hotel reviews, each with its sentences' spans
    and labelled aspects (entities) and polarities, in file order."""
    columns = ("review_id", "sentence_id", "text", "category_polarities")
    reviews: list[AspectReview] = []
    for domain, path in SEMEVAL_REVIEW_FILES.items():
        by_review: dict[str, list[dict[str, str]]] = {}
        for row in _rows(Path(datasets_dir) / path, columns):
            by_review.setdefault(row["review_id"], []).append(row)
        reviews += [_review(domain, rows) for rows in by_review.values()]
    return reviews


def _review(domain: str, rows: list[dict[str, str]]) -> AspectReview:
    # "1004293:3" (restaurants), "73821_30#3" (hotels): the sentence's place in its review.
    rows = sorted(rows, key=lambda row: int(re.split("[:#]", row["sentence_id"])[-1]))
    text, sentences = "", []
    for row in rows:
        sentence = row["text"].strip()
        text += " " if text else ""
        opinions = [part.rsplit(":", 1) for part in row["category_polarities"].split("|") if part]
        sentences.append(
            AspectSentence(
                start=len(text),
                end=len(text) + len(sentence),
                aspects=frozenset(f"{domain} {category.split('#')[0]}" for category, _ in opinions),
                polarities=frozenset(polarity for _, polarity in opinions),
            )
        )
        text += sentence
    return AspectReview(text, sentences)


def split_tweets(n_tweets: int, sample_size: int, pool_size: int, seed: int = 0) -> TweetSplit:
    """Return a seeded test sample of sample_size tweets and a pool of up to pool_size of
    the others (the same split as docs/research/sentiment_eval.py for the defaults)."""
    if sample_size >= n_tweets:
        raise DatasetError(
            f"A sample of {sample_size:,} tweets leaves no pool out of {n_tweets:,}: "
            "ask for a smaller --sentiment-sample."
        )
    order = np.random.RandomState(seed).permutation(n_tweets)
    rest = np.random.RandomState(seed + 123).permutation(order[sample_size:])
    return TweetSplit(test=order[:sample_size], pool=rest[:pool_size])
