"""The sentiment prompt: a few-shot prompt whose label tokens the language model scores."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from insights.models import Sentiment
from insights.pipeline.units import Unit, text_units
from llm.interfaces import LabelReading, LabelScorer
from llm.prompts import FewShotPrompt, shared_beginning

# Change the version with any change to the prompt below, or to what is read from it (units,
# feature tokens): stored scores are redone.
SENTIMENT_PROMPT_VERSION = "sentiment-fewshot9-units-features-v1"
LABELS: tuple[str, ...] = tuple(Sentiment.values)  # negative, neutral, positive

SENTIMENT_INSTRUCTION = (
    "Label the sentiment of each piece of customer feedback as negative, neutral or "
    "positive. Questions and plain statements of fact are neutral. Answer with one word."
)
SENTIMENT_CUE = "Feedback: {text}\nSentiment:"
# Hand-written, not taken from any data set: reviews, tickets and social posts, three per
# class, the neutral ones questions and plain statements. Interleaved so that no label
# dominates the end of the prompt; no instruction line for base models (it lowered
# macro-F1 in the research).
SENTIMENT_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("The app crashes every time I open the camera. Useless since the update.", "negative"),
    ("@acme thanks for the quick refund, your support team is amazing!", "positive"),
    ("How do I export my transactions to a spreadsheet?", "neutral"),
    ("I was charged twice for my order and nobody has answered my emails in a week.", "negative"),
    ("Love the new dark mode, everything feels faster and cleaner.", "positive"),
    ("I ordered the blue one on Monday and it is due on Friday.", "neutral"),
    ("@acme 2 hours on hold and still no answer. Ridiculous.", "negative"),
    ("@acme do you ship to Canada?", "neutral"),
    ("Great product, the agent fixed my problem in five minutes.", "positive"),
)
# Tokens never outnumber the UTF-8 bytes of a text (byte fallback is the worst case), so
# this cap, plus the ~200-token examples, always fits the 2,048-token context. 1,000 bytes
# is ~170 English words: longer feedback is judged by its beginning.
MAX_TEXT_BYTES = 1000


def feedback_text(text: str) -> str:
    """Return the text as the prompt shows it: on one line, cut to MAX_TEXT_BYTES."""
    one_line = " ".join(text.split())
    # Cut on bytes, not characters: dropping a half character is harmless.
    return one_line.encode()[:MAX_TEXT_BYTES].decode(errors="ignore")


def sentiment_prompt(text: str) -> FewShotPrompt:
    """Return the few-shot prompt for one item; the examples come first, so the model
    evaluates them once for all items."""
    return FewShotPrompt(
        instruction=SENTIMENT_INSTRUCTION,
        examples=tuple(
            (SENTIMENT_CUE.format(text=example), f" {label}")
            for example, label in SENTIMENT_EXAMPLES
        ),
        query=SENTIMENT_CUE.format(text=feedback_text(text)),
    )


def read_texts(texts: Sequence[str], llm: LabelScorer) -> tuple[np.ndarray, np.ndarray]:
    """Return the raw label probabilities (one row per text, columns in LABELS order) and
    the model's feature logits (one row per text, float32), from one reading of each."""
    readings = [_read_labels(text, llm) for text in texts]
    probabilities = [[reading.probabilities[label] for label in LABELS] for reading in readings]
    width = len(readings[0].features) if readings else 0
    features = np.array([reading.features for reading in readings], dtype=np.float32)
    return (
        np.array(probabilities).reshape(-1, len(LABELS)),
        features.reshape(len(readings), width),
    )


def _read_labels(text: str, llm: LabelScorer) -> LabelReading:
    """Read the labels after the text's prompt, the same whatever was read before it (the
    examples the prompts share declared to the model)."""
    prompt = sentiment_prompt(text)
    rendered = llm.render(prompt)
    return llm.read_labels(rendered, LABELS, shared=shared_beginning(rendered, prompt))


def score_texts(texts: Sequence[str], llm: LabelScorer) -> np.ndarray:
    """Return the raw label probabilities, one row per text, columns in LABELS order."""
    return read_texts(texts, llm)[0]


@dataclass(frozen=True)
class FeedbackScores:
    """The model's raw label probabilities for one feedback text (columns in LABELS order):
    the item's (its whole reading, or both readings combined for a long text), and each
    unit's where it has several (insights.pipeline.units); with the feature logits of its
    whole reading (llm.interfaces.LabelReading), what the classifier learns from beside
    the text's embedding."""

    item: np.ndarray
    features: np.ndarray
    units: tuple[tuple[Unit, np.ndarray], ...] = ()


def score_feedback(texts: Sequence[str], llm: LabelScorer) -> list[FeedbackScores]:
    """Score each text as a whole and, where it is long, sentence by sentence too, and
    combine the two readings (combine_readings)."""
    spans = [text_units(text) for text in texts]
    whole, features = read_texts(texts, llm)
    split = [(text, units) for text, units in zip(texts, spans, strict=True) if len(units) > 1]
    unit_texts = [unit.of(text) for text, units in split for unit in units]
    unit_rows = iter(score_texts(unit_texts, llm))
    found = []
    for reading, read_features, units in zip(whole, features, spans, strict=True):
        if len(units) <= 1:
            found.append(FeedbackScores(reading, read_features))
            continue
        scored = tuple((unit, next(unit_rows)) for unit in units)
        rows = np.array([row for _, row in scored])
        found.append(FeedbackScores(combine_readings(reading, rows), read_features, scored))
    return found


def combine_readings(whole: np.ndarray, units: np.ndarray) -> np.ndarray:
    """A long text's label probabilities: the geometric mean of its reading as a whole (the
    overall verdict, in context, but cut at MAX_TEXT_BYTES) and the mean of its units'
    (each opinion heard, however many facts surround it). Either alone did worse on long
    reviews (docs/research/sentiment.md, "Long feedback, sentence by sentence")."""
    mean = units.mean(axis=0)
    both = np.sqrt(whole * mean / mean.sum())
    return both / both.sum()


def model_calls(text: str) -> int:
    """The language-model calls score_feedback makes for a text: one, and one a unit where
    it has several."""
    units = len(text_units(text))
    return 1 + units if units > 1 else 1


# Texts that say nothing: the model's scores for them show its bias towards each label,
# whatever the feedback (contextual calibration: Zhao et al., "Calibrate Before Use", 2021).
CONTENT_FREE_TEXTS = ("N/A", "", "[MASK]")


def content_free_scores(llm: LabelScorer) -> np.ndarray:
    """Return the raw label probabilities of CONTENT_FREE_TEXTS, one row each."""
    return score_texts(CONTENT_FREE_TEXTS, llm)
