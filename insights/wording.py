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


def stems_of(text: str) -> list[str]:
    return [stem(word) for word in re.findall(r"\w+", text.lower())]


def says_phrase(text: str, phrase: str) -> bool:
    """Whether text writes phrase, word stem for word stem in order ("codes never
    arrived" writes "code never arrives")."""
    return bool(_phrase_starts(stems_of(text), stems_of(phrase)))


def _phrase_starts(stems: Sequence[str], wanted: Sequence[str]) -> list[int]:
    """The positions in stems where the run of stems wanted begins."""
    run, width = list(wanted), len(wanted)
    if not width:
        return []
    return [i for i in range(len(stems) - width + 1) if list(stems[i : i + width]) == run]


def written_form(phrase: str, texts: Sequence[str]) -> str:
    """The phrase as customers most often wrote it in texts (their capitals: "2FA code"),
    or the phrase itself where none of them has it word for word."""
    words = phrase.split()
    pattern = re.compile(r"\b" + r"\W+".join(map(re.escape, words)) + r"\b", re.IGNORECASE)
    forms: dict[str, int] = {}
    for text in texts:
        for match in pattern.finditer(text):
            form = " ".join(match.group(0).split())
            forms[form] = forms.get(form, 0) + 1
    if not forms:
        return phrase
    # Most frequent; among equals, the one with fewer capitals (a shouted "CRASHES" loses).
    return max(forms, key=lambda form: (forms[form], -sum(c.isupper() for c in form)))


# Feedback that speaks to a language model rather than about the product: it must never
# name a theme, become a facet or be quoted as evidence.
INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}?\b(?:instructions?|prompts?|directions)\b"
    r"|\b(?:ignore|disregard|forget)\s+(?:all\s+)?(?:the\s+)?(?:previous|prior|above|earlier)\b"
    r"|\b(?:system|previous|above)\s+prompt\b"
    r"|\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:ai|assistant|language\s+model|chatbot|llm)\b"
    r"|\b(?:name|call|title|label)\s+(?:this|the)\s+(?:theme|topic|cluster|group)\b"
    r"|\b(?:respond|answer|reply)\s+(?:only\s+)?with\s+(?:the\s+)?(?:word|text|phrase)\b"
    # A role as a chat transcript or a prompt writes it ("SYSTEM: ...", "### Assistant:");
    # "System: crashes" may be a review, so a bare role counts in capitals only.
    r"|(?:^|\n)\s*(?:\#{1,6}\s*(?:system|assistant|instructions?)|(?-i:SYSTEM|ASSISTANT))\s*:"
    # Chat-template tokens of common model families (Gemma, ChatML, Llama, GPT).
    r"|<\|?(?:start_of_turn|end_of_turn|im_start|im_end|endoftext|system|assistant|user)\|?>"
    r"|\[/?INST\]|<</?SYS>>",
    re.IGNORECASE | re.DOTALL,
)


def speaks_to_the_model(text: str) -> bool:
    """Whether text reads as an instruction to a language model (a prompt injection)."""
    return bool(INSTRUCTION_LIKE.search(text))


def highlighted(text: str, phrase: str, limit: int = 300) -> list[tuple[str, bool]]:
    """The text on one line as (part, is_the_phrase) pairs, marking where it writes phrase
    (word stems, see says_phrase); cut to about limit characters around the first match."""
    flat = " ".join(text.split())
    words = list(re.finditer(r"\w+", flat))
    wanted = stems_of(phrase)
    starts = _phrase_starts([stem(word.group(0)) for word in words], wanted)
    spans = [(words[i].start(), words[i + len(wanted) - 1].end()) for i in starts]
    start = 0
    if len(flat) > limit and spans and spans[0][1] > limit - 40:
        start = flat.rfind(" ", 0, max(spans[0][0] - limit // 3, 0)) + 1
    end = len(flat) if len(flat) - start <= limit else flat.rfind(" ", start, start + limit)
    parts: list[tuple[str, bool]] = [("…", False)] if start else []
    position = start
    for span_start, span_end in spans:
        if span_start < position or span_end > end:
            continue
        parts += [(flat[position:span_start], False), (flat[span_start:span_end], True)]
        position = span_end
    parts.append((flat[position:end] + ("…" if end < len(flat) else ""), False))
    return [part for part in parts if part[0]]
