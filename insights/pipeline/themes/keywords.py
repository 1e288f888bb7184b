"""Theme keywords by class-based TF-IDF over every theme's texts (BERTopic's c-TF-IDF)."""

import re
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


def keyword_terms(text: str) -> list[str]:
    """The text's words and two-word phrases that are not, and do not hold, stop words.

    A phrase is two words next to each other in the text: removing stop words first, as
    CountVectorizer does, makes phrases nobody wrote ("like open" from "I'd like to open")."""
    words = WORD.findall(text.lower())
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
    theme_ids = [theme_id for theme_id, texts in texts_by_theme.items() if texts]
    if not theme_ids:
        return keywords
    vectorizer = CountVectorizer(analyzer=keyword_terms)
    texts = [text for theme_id in theme_ids for text in texts_by_theme[theme_id]]
    try:
        per_text = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words
        return keywords
    # Counted per text and then summed per theme, so no bigram spans two texts.
    owner = np.repeat(np.arange(len(theme_ids)), [len(texts_by_theme[t]) for t in theme_ids])
    membership = sparse.csr_matrix(
        (np.ones(len(texts)), (owner, np.arange(len(texts)))), shape=(len(theme_ids), len(texts))
    )
    counts = (membership @ per_text).toarray()
    scores = class_tfidf(counts) * (keyword_lift(counts) >= MIN_KEYWORD_LIFT)
    terms = vectorizer.get_feature_names_out()
    for row, theme_id in enumerate(theme_ids):
        keywords[theme_id] = _top_terms(terms, scores[row], top_n)
    return keywords


def class_tfidf(counts: np.ndarray) -> np.ndarray:
    """Return c-TF-IDF scores for a (classes, terms) count matrix."""
    class_totals = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(class_totals, 1)
    idf = np.log(1 + class_totals.mean() / np.maximum(counts.sum(axis=0), 1))
    return tf * idf


def keyword_lift(counts: np.ndarray) -> np.ndarray:
    """Return how many times more frequent each term is in each class than in the others
    (infinite where the others never use it, or where there is only one class)."""
    class_totals = counts.sum(axis=1, keepdims=True)
    rest = counts.sum(axis=0) - counts
    rest_totals = class_totals.sum() - class_totals
    rate_in = counts / np.maximum(class_totals, 1)
    rate_out = rest / np.maximum(rest_totals, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(rate_out > 0, rate_in / np.where(rate_out > 0, rate_out, 1), np.inf)
    return lift


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
