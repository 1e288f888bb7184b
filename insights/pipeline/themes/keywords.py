"""Theme keywords and phrases by class-based TF-IDF (BERTopic's c-TF-IDF) over theme texts."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from insights.wording import stem

# Fragments that the tokenizer leaves from contractions ("can't" -> "can"), and the greetings
# and sign-offs of tickets: they say nothing about what a theme is about.
FEEDBACK_FILLER = frozenset(
    {
        *("can", "cannot", "don", "doesn", "didn", "isn", "wasn", "weren", "won", "ve", "ll"),
        *("re", "haven", "hasn", "hadn", "aren", "couldn", "wouldn", "shouldn", "ain", "im"),
        *("ive", "hi", "hello", "hey", "thanks", "thank", "regards", "cheers", "pls"),
    }
)
# Verbs, adverbs and verdicts that any theme's feedback uses: in the demo data they topped
# whole themes' keywords ("keeps · connection · account", "finally · liked") while saying
# how people feel rather than what about; sentiment has its own stage.
GENERIC_WORDS = frozenset(
    {
        *("keep", "keeps", "kept", "get", "gets", "got", "getting", "having", "does", "did"),
        *("tried", "try", "trying", "use", "used", "using", "want", "wants", "need", "needs"),
        *("make", "makes", "made", "going", "went", "say", "says", "said", "know", "think"),
        *("finally", "really", "just", "still", "actually", "literally", "honestly", "ugh"),
        *("love", "loved", "like", "liked", "great", "good", "nice", "bad", "worst", "best"),
        *("better", "awesome", "amazing", "terrible", "horrible", "useless", "pointless"),
        *("recommend", "please", "fix", "issue", "problem", "app", "apps", "thing", "things"),
    }
)
STOP_WORDS = ENGLISH_STOP_WORDS | FEEDBACK_FILLER | GENERIC_WORDS
# Words of two or more characters with at least one letter: keeps "2fa" and "csv", drops
# bare numbers such as prices and counts, which differ from item to item.
WORD = re.compile(r"(?u)\b(?=\w*[^\W\d_])\w\w+\b")


# Handles and links say who a post is addressed to or where it points, not what it says: on
# airline tweets "@united" topped every phrase of the theme of United's customers.
ADDRESSES = re.compile(r"@\w+|https?://\S+|www\.\S+")


def addressed_to_nobody(text: str) -> str:
    """The text without handles and links."""
    return ADDRESSES.sub(" ", text)


def keyword_terms(text: str) -> list[str]:
    """The text's words and two-word phrases that are not, and do not hold, stop words.

    A phrase is two words next to each other in the text: removing stop words first, as
    CountVectorizer does, makes phrases nobody wrote ("like open" from "I'd like to open")."""
    words = WORD.findall(addressed_to_nobody(text).lower())
    keep = [word not in STOP_WORDS for word in words]
    unigrams = [word for word, kept in zip(words, keep, strict=True) if kept]
    bigrams = [
        f"{first} {second}"
        for (first, second), kept in zip(pairwise(words), pairwise(keep), strict=True)
        if all(kept)
    ]
    return unigrams + bigrams


# A term is a keyword of a theme only if it is this many times more frequent there than in
# the other themes: "app" and "please" are everywhere and must not name anything.
MIN_KEYWORD_LIFT = 2.0
# Texts per theme that keywords are computed from (nearest the centre first): enough for
# stable counts, and bounded on large themes.
KEYWORD_TEXTS_PER_THEME = 2000


def theme_keywords(texts_by_theme: dict[int, list[str]], top_n: int = 8) -> dict[int, list[str]]:
    """Return each theme's top_n keywords (unigrams and bigrams), most distinctive first.

    c-TF-IDF: each theme is one class; a term scores its frequency in the class (as a share
    of the class's words) times log(1 + mean words per class / the term's frequency in all
    classes). Themes without texts, or with only stop words, get no keywords.
    """
    keywords: dict[int, list[str]] = {theme_id: [] for theme_id in texts_by_theme}
    counted = _class_counts(texts_by_theme, _vectorizer(keyword_terms))
    if counted is None:
        return keywords
    for row, theme_id in enumerate(counted.theme_ids):
        indices, scores = counted.row_scores(row)
        keywords[theme_id] = _top_terms(counted.terms[indices], scores, top_n)
    return keywords


# The vocabulary is capped to the most frequent terms: it grows with the feedback (about
# n^0.77 terms for n texts, 0.9 million at a million texts, issue 21), and a term written
# fewer times than the top MAX_TERMS can name no theme but a handful of items.
MAX_TERMS = 200_000


def _vectorizer(analyzer: Callable[[str], list[str]], binary: bool = False) -> CountVectorizer:
    return CountVectorizer(analyzer=analyzer, binary=binary, max_features=MAX_TERMS)


@dataclass(frozen=True)
class _ClassCounts:
    """The themes with texts, the terms, and each theme's term counts and c-TF-IDF scores
    (zero where a term's lift is below MIN_KEYWORD_LIFT): sparse matrices of themes by terms, of
    one shape and one pattern, holding only the terms a theme uses."""

    theme_ids: list[int]
    terms: np.ndarray
    counts: sparse.csr_matrix
    scores: sparse.csr_matrix

    def row_scores(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The term indices a theme uses, in order, and their scores."""
        found = slice(self.scores.indptr[row], self.scores.indptr[row + 1])
        return self.scores.indices[found], self.scores.data[found]

    def row_counts(self, row: int) -> np.ndarray:
        """The counts of the terms a theme uses, in row_scores's order."""
        return self.counts.data[self.counts.indptr[row] : self.counts.indptr[row + 1]]


def _class_counts(
    texts_by_theme: dict[int, list[str]], vectorizer: CountVectorizer
) -> _ClassCounts | None:
    """Count each theme's terms and score them; None when there are no texts or only stop
    words."""
    theme_ids = [theme_id for theme_id, texts in texts_by_theme.items() if texts]
    texts = [text for theme_id in theme_ids for text in texts_by_theme[theme_id]]
    if not texts:
        return None
    try:
        per_text = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words
        return None
    # Counted per text and then summed per theme, so no phrase spans two texts.
    owner = np.repeat(np.arange(len(theme_ids)), [len(texts_by_theme[t]) for t in theme_ids])
    membership = sparse.csr_matrix(
        (np.ones(len(texts)), (owner, np.arange(len(texts)))), shape=(len(theme_ids), len(texts))
    )
    counts = sparse.csr_matrix(membership @ per_text, dtype=np.float64)
    counts.eliminate_zeros()
    counts.sort_indices()
    scores = class_tfidf(counts)
    scores.data *= keyword_lift(counts).data >= MIN_KEYWORD_LIFT
    return _ClassCounts(theme_ids, vectorizer.get_feature_names_out(), counts, scores)


def class_tfidf(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """Return c-TF-IDF scores for a (classes, terms) count matrix, of its pattern."""
    class_totals, term_totals, rows = _totals(counts)
    tf = counts.data / np.maximum(class_totals[rows], 1)
    idf = np.log(1 + class_totals.mean() / np.maximum(term_totals[counts.indices], 1))
    return _like(counts, tf * idf)


def keyword_lift(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """Return how many times more frequent each term is in each class than in the others
    (infinite where the others never use it, or where there is only one class), for the
    terms each class uses."""
    class_totals, term_totals, rows = _totals(counts)
    rate_in = counts.data / np.maximum(class_totals[rows], 1)
    rest = term_totals[counts.indices] - counts.data
    rest_totals = class_totals.sum() - class_totals[rows]
    rate_out = rest / np.maximum(rest_totals, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(rate_out > 0, rate_in / np.where(rate_out > 0, rate_out, 1), np.inf)
    return _like(counts, lift)


def _totals(counts: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each class's total, each term's total, and the class of each stored count."""
    class_totals = np.asarray(counts.sum(axis=1)).ravel()
    term_totals = np.asarray(counts.sum(axis=0)).ravel()
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    return class_totals, term_totals, rows


def _like(counts: sparse.csr_matrix, data: np.ndarray) -> sparse.csr_matrix:
    """A matrix of the counts' pattern holding data."""
    return sparse.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape)


def _top_terms(terms: np.ndarray, scores: np.ndarray, top_n: int) -> list[str]:
    """The best-scoring terms, leaving out one whose words a chosen term already has
    ("reminder" after "reminders", "bank" after "bank sync")."""
    chosen: list[str] = []
    stems: list[set[str]] = []
    for index in np.argsort(-scores, kind="stable"):
        if scores[index] <= 0 or len(chosen) == top_n:
            break
        term = str(terms[index])
        term_stems = {stem(word) for word in term.split()}
        if not any(term_stems <= other for other in stems):
            chosen.append(term)
            stems.append(term_stems)
    return chosen


# Phrases never cross punctuation: a phrase is something a customer wrote in one breath.
CLAUSE_BREAK = re.compile('[.!?;:,()\\[\\]{}"\u201c\u201d\u2026\\n]+|\\s[-\u2013\u2014]\\s')
TOKEN = re.compile(r"\w+(?:['-]\w+)*")  # apostrophes are made straight first
# Words that join clauses: a phrase across one ("month because the connection", "wrong and
# land") is half of two things a customer said.
CLAUSE_WORDS = frozenset(
    {
        *("and", "but", "or", "so", "because", "since", "when", "while", "although"),
        *("though", "if", "unless", "until", "after", "before", "which", "whereas"),
    }
)
MAX_PHRASE_WORDS = 4
# A phrase must be written by at least this many of a theme's items to speak for it.
MIN_PHRASE_ITEMS = 2


def phrase_terms(text: str) -> list[str]:
    """The text's distinct phrases of 1 to MAX_PHRASE_WORDS words within one clause (split
    at punctuation and at CLAUSE_WORDS), whose
    first and last words are keyword words (not stop words, not bare numbers); words inside
    may be anything ("code never arrives", "charged twice", "crashes on 4.2")."""
    phrases: set[str] = set()
    for clause in CLAUSE_BREAK.split(addressed_to_nobody(text).lower().replace("\u2019", "'")):
        for words in _split_on(TOKEN.findall(clause), CLAUSE_WORDS):
            edge = [_is_edge_word(word) for word in words]
            for start, first_ok in enumerate(edge):
                if not first_ok:
                    continue
                for end in range(start, min(start + MAX_PHRASE_WORDS, len(words))):
                    if edge[end]:
                        phrases.add(" ".join(words[start : end + 1]))
    return sorted(phrases)


def _split_on(words: list[str], breaks: frozenset[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for word in words:
        if word in breaks:
            parts.append([])
        else:
            parts[-1].append(word)
    return [part for part in parts if part]


def _is_edge_word(word: str) -> bool:
    base = word.split("'")[0]  # "doesn't" is as empty as "doesn"
    return bool(WORD.fullmatch(base)) and base not in STOP_WORDS and word not in STOP_WORDS


@dataclass(frozen=True)
class Phrase:
    """A phrase of a theme's items: its words (lower case), its class-based TF-IDF score
    and how many of the theme's items write it."""

    text: str
    score: float
    items: int

    @property
    def words(self) -> int:
        return len(self.text.split())


def theme_phrases(texts_by_theme: dict[int, list[str]], top_n: int = 20) -> dict[int, list[Phrase]]:
    """Return each theme's top_n phrases, most distinctive first: c-TF-IDF over how many of
    each theme's items write a phrase, so that a phrase says what this theme says and the
    other themes do not (MIN_KEYWORD_LIFT). A phrase needs MIN_PHRASE_ITEMS items; a phrase
    inside a longer one that nearly as many items write gives way to it ("code" to "2fa
    code never arrives")."""
    phrases: dict[int, list[Phrase]] = {theme_id: [] for theme_id in texts_by_theme}
    # binary: a phrase counts the items that write it, not how often they do.
    counted = _class_counts(texts_by_theme, _vectorizer(phrase_terms, binary=True))
    if counted is None:
        return phrases
    for row, theme_id in enumerate(counted.theme_ids):
        indices, scores = counted.row_scores(row)
        items = counted.row_counts(row)
        scores = scores * (items >= MIN_PHRASE_ITEMS)
        ranked = [
            Phrase(str(counted.terms[indices[at]]), float(scores[at]), int(items[at]))
            for at in np.argsort(-scores, kind="stable")[: top_n * 4]
            if scores[at] > 0
        ]
        phrases[theme_id] = maximal_phrases(ranked)[:top_n]
    return phrases


# A phrase gives way to a longer one holding it when the longer is written by at least this
# share of the items that write the shorter: it then says the same, and more.
LONGER_PHRASE_SHARE = 0.6


def maximal_phrases(ranked: list[Phrase]) -> list[Phrase]:
    """The phrases, in their order, without any that a longer phrase of the list holds
    and nearly as many items write; the longer takes the shorter's place."""
    kept: list[Phrase] = []
    for phrase in ranked:
        longer = [
            other
            for other in ranked
            if other.words > phrase.words
            and f" {phrase.text} " in f" {other.text} "
            and other.items >= LONGER_PHRASE_SHARE * phrase.items
        ]
        # The most written, then the longest: it is itself inside no longer candidate.
        best = max(longer, key=lambda o: (o.items, o.words, o.score)) if longer else phrase
        if best not in kept:
            kept.append(best)
    return kept
