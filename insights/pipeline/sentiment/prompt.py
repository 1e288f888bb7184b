"""The sentiment prompt: a few-shot prompt whose label tokens the language model scores."""

from collections.abc import Sequence

import numpy as np

from insights.models import Sentiment
from llm.interfaces import LabelScorer
from llm.prompts import FewShotPrompt

# Change the version with any change to the prompt below: stored scores are redone.
SENTIMENT_PROMPT_VERSION = "sentiment-fewshot9-v1"
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


def score_texts(texts: Sequence[str], llm: LabelScorer) -> np.ndarray:
    """Return the raw label probabilities, one row per text, columns in LABELS order."""
    rows = [llm.label_probabilities(llm.render(sentiment_prompt(t)), LABELS) for t in texts]
    return np.array([[row[label] for label in LABELS] for row in rows]).reshape(-1, len(LABELS))


# Texts that say nothing: the model's scores for them show its bias towards each label,
# whatever the feedback (contextual calibration: Zhao et al., "Calibrate Before Use", 2021).
CONTENT_FREE_TEXTS = ("N/A", "", "[MASK]")


def content_free_scores(llm: LabelScorer) -> np.ndarray:
    """Return the raw label probabilities of CONTENT_FREE_TEXTS, one row each."""
    return score_texts(CONTENT_FREE_TEXTS, llm)
