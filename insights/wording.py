"""Checks on wording that names and summaries share: plain words, stems, loops, quotes."""

import re
from collections.abc import Iterable, Sequence

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

Quote = tuple[int, str]  # (item id, text)


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


def first_distinct(quotes: Iterable[Quote], n: int) -> list[Quote]:
    """Return the first n quotes whose texts differ (compared as comparable() words)."""
    seen: set[str] = set()
    kept: list[Quote] = []
    for item_id, text in quotes:
        key = comparable(text)
        if key and key not in seen:
            seen.add(key)
            kept.append((item_id, text))
        if len(kept) == n:
            break
    return kept
