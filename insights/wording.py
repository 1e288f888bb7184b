"""Wording that names, summaries, copy and reports share: plain words, stems, loops, and
the one way text is shortened for showing (one_line)."""

import re
from collections.abc import Sequence

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS


def comparable(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def one_line(text: str, limit: int = 220) -> str:
    """The text on one line, cut at a word boundary to about limit characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


FIRST_PERSON = frozenset(
    {"i", "i'm", "i've", "i'd", "me", "my", "mine", "myself", "we", "we're", "our", "ours", "us"}
)


def words_of(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def content_words(text: str) -> list[str]:
    """The words of text that are not stop words."""
    return [word for word in words_of(text) if word not in ENGLISH_STOP_WORDS and len(word) > 1]


def stem(word: str) -> str:
    """A crude stem, enough to match "syncing" with "sync" and "codes" with "code"."""
    word = word.lower()
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    # "code", "codes", "coded" and "coding" all end up as "cod".
    return word.removesuffix("e") if len(word) > 3 else word


def is_repetitive(words: Sequence[str], ngram: int) -> bool:
    """Whether any run of ngram words occurs twice: the mark of a generation loop."""
    grams = [tuple(words[i : i + ngram]) for i in range(len(words) - ngram + 1)]
    return len(grams) != len(set(grams))
