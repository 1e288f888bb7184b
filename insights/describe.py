"""Describing themes: keywords, a short name and a pain-point summary for each.

Keywords come from class-based TF-IDF over every theme's texts (BERTopic's c-TF-IDF). The
name and the summary come from the local language model, by few-shot completion, and are
checked before they are stored: a name must be short, new and on topic; every summary
sentence must cite the quotes it rests on and be supported by them. What fails a check is
replaced by something made from the data itself (keywords, the quotes), and says so.
"""

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from django.db.models import Q
from django.utils import timezone
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from ingestion.models import FeedbackItem
from insights.embedding import item_vectors
from insights.local_models import configured_embedder, configured_llm, model_version
from insights.models import (
    ModelVersion,
    NameSource,
    Sentiment,
    SummaryKind,
    Theme,
    ThemeAssignment,
    ThemeStatus,
)
from llm.embeddings import Embedder
from llm.generation import LocalLLM
from llm.prompts import FewShotPrompt

# Recorded on each theme with the model: names and summaries change when the prompts do.
DESCRIBE_PROMPT_VERSION = "describe-1"

Quote = tuple[int, str]  # (item id, text)

# --- Keywords -------------------------------------------------------------------------------

# Fragments that the tokenizer leaves from contractions ("can't" -> "can"), and the greetings
# and sign-offs of tickets: they say nothing about what a theme is about.
FEEDBACK_FILLER = frozenset(
    {
        *("can", "cannot", "don", "doesn", "didn", "isn", "wasn", "weren", "won", "ve", "ll"),
        *("re", "haven", "hasn", "hadn", "aren", "couldn", "wouldn", "shouldn", "ain", "im"),
        *("ive", "hi", "hello", "hey", "thanks", "thank", "regards", "cheers", "pls"),
    }
)
STOP_WORDS = ENGLISH_STOP_WORDS | FEEDBACK_FILLER
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


# --- Representative items -------------------------------------------------------------------


def representative_items(theme: Theme, n: int = 5) -> list[Quote]:
    """Return up to n (item id, text) of the theme's items nearest its centre, nearest first,
    one per distinct text."""
    return nearest_items(theme, n)


def nearest_items(theme: Theme, n: int, negative_only: bool = False) -> list[Quote]:
    """Return up to n (item id, text) nearest the theme's centre, one per distinct text.

    Nearness is the cosine to the current centre where the item has an embedding from the
    theme's model, else the similarity stored when it was assigned."""
    assignments = ThemeAssignment.objects.filter(theme=theme)
    if negative_only:
        assignments = assignments.filter(_NEGATIVE)
    stored = dict(assignments.values_list("item_id", "similarity"))
    texts = dict(assignments.values_list("item_id", "item__text"))
    items = FeedbackItem.objects.filter(theme_assignment__in=assignments)
    ids, vectors = item_vectors(items, theme.embedding_model)
    if len(ids) and len(theme.centroid):
        stored.update(zip(ids, (vectors @ theme.centroid_array()).tolist(), strict=True))
    ranked = sorted(stored, key=lambda item_id: (-stored[item_id], item_id))
    return _distinct([(item_id, texts[item_id]) for item_id in ranked], n)


# Negative as a person corrected it, else as predicted: ItemSentiment.label in SQL.
_NEGATIVE = Q(item__sentiment__corrected=Sentiment.NEGATIVE) | Q(
    item__sentiment__corrected="", item__sentiment__predicted=Sentiment.NEGATIVE
)


def _distinct(quotes: Iterable[Quote], n: int) -> list[Quote]:
    seen: set[str] = set()
    kept: list[Quote] = []
    for item_id, text in quotes:
        key = _normalise(text)
        if key and key not in seen:
            seen.add(key)
            kept.append((item_id, text))
        if len(kept) == n:
            break
    return kept


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def one_line(text: str, limit: int = 220) -> str:
    """The text on one line, cut at a word boundary to about limit characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


# --- Names ----------------------------------------------------------------------------------

NAME_INSTRUCTION = (
    "Name the topic of each group of customer feedback in two to five words. "
    "Answer with the name only."
)
# Examples from products unlike the customer's, so the model cannot copy a name that fits.
NAME_EXAMPLES = (
    (
        'Feedback: "My parcel arrived nine days late." | "Tracking has said out for delivery '
        'since Monday."\n'
        "Name:",
        " Late parcel deliveries",
    ),
    (
        'Feedback: "Please add a dark mode, the white screen hurts at night." | "Any plans '
        'for a dark theme?"\n'
        "Name:",
        " Dark mode requests",
    ),
    (
        'Feedback: "My Visa card is declined at checkout every time." | "Payment fails at '
        'the last step."\n'
        "Name:",
        " Card payments declined at checkout",
    ),
)
# The keywords are not shown: given them, the model listed them back as the name (5 of 11
# demo themes, against 0 of 11 without); they still decide whether a name is on topic.
NAME_QUERY = "Feedback: {quotes}\nName:"
NAME_MAX_TOKENS = 16
NAME_TIMEOUT_S = 10.0
NAME_MAX_WORDS = 6
NAME_MAX_CHARS = 60
# Cosine between a name and its keywords above which a name that shares no word with them
# still counts as on topic (see the measurements in the final report of this stage).
NAME_TOPIC_COSINE = 0.5
NAME_QUOTES_SHOWN = 3

FIRST_PERSON = frozenset(
    {"i", "i'm", "i've", "i'd", "me", "my", "mine", "myself", "we", "we're", "our", "ours", "us"}
)


def name_prompt(quotes: Sequence[Quote]) -> FewShotPrompt:
    shown = " | ".join(f'"{one_line(text, 120)}"' for _, text in quotes[:NAME_QUOTES_SHOWN])
    query = NAME_QUERY.format(quotes=shown)
    return FewShotPrompt(instruction=NAME_INSTRUCTION, examples=NAME_EXAMPLES, query=query)


def name_theme(
    keywords: Sequence[str],
    quotes: Sequence[Quote],
    llm: LocalLLM,
    taken: Collection[str] = (),
    embedder: Embedder | None = None,
) -> tuple[str, str]:
    """Return (name, NameSource): the model's name if it passes check_name, else one made
    from the keywords. taken: the names of the other themes."""
    completion = llm.complete(
        llm.render(name_prompt(quotes)),
        max_tokens=NAME_MAX_TOKENS,
        stop=["\n"],
        timeout_s=NAME_TIMEOUT_S,
    )
    name = clean_name(completion.text)
    problem = check_name(name, keywords, quotes, taken, embedder or configured_embedder())
    if problem:
        return keyword_name(keywords, taken), NameSource.KEYWORDS
    return name, NameSource.LLM


def clean_name(text: str) -> str:
    """The name without quotes, a trailing full stop or spare spaces."""
    name = " ".join(text.split()).strip(" \"'“”`*-")
    return name.removesuffix(".").strip()


def check_name(
    name: str,
    keywords: Sequence[str],
    quotes: Sequence[Quote],
    taken: Collection[str],
    embedder: Embedder,
) -> str:
    """Return why the name is not acceptable, or "" when it is."""
    words = name.lower().split()
    if not words:
        return "the name is empty"
    if len(words) > NAME_MAX_WORDS or len(name) > NAME_MAX_CHARS:
        return "the name is too long"
    if is_repetitive(content_words(name), ngram=1) or is_repetitive(words, ngram=2):
        return "the name repeats itself"
    if FIRST_PERSON & set(_words(name)):
        return "the name is written in the first person"
    if _copies_a_quote(name, quotes):
        return "the name copies a quote"
    if name.casefold() in {other.casefold() for other in taken}:
        return "another theme has this name"
    invented = _invented_words(name, keywords, quotes)
    if len(invented) > 1:
        return f"the name uses words that neither keywords nor quotes have: {', '.join(invented)}"
    if not _on_topic(name, keywords, embedder):
        return "the name is not about the keywords"
    return ""


def _copies_a_quote(name: str, quotes: Sequence[Quote]) -> bool:
    # Short phrases such as "bank sync" are fine even if a customer wrote them; a whole
    # quote, or five words straight out of one, is not a name.
    normalised = _normalise(name)
    for _, text in quotes:
        quote = _normalise(text)
        if normalised == quote or (len(normalised.split()) >= 5 and normalised in quote):
            return True
    return False


def _invented_words(name: str, keywords: Sequence[str], quotes: Sequence[Quote]) -> list[str]:
    # One new word is how a name generalises ("requests", "failures"); more and the model
    # is copying an example's name ("declined at checkout").
    known = " ".join([*keywords, *(text for _, text in quotes)])
    known_stems = {stem(word) for word in _words(known)}
    return [word for word in content_words(name) if stem(word) not in known_stems]


def _on_topic(name: str, keywords: Sequence[str], embedder: Embedder) -> bool:
    keyword_stems = {stem(word) for keyword in keywords for word in keyword.split()}
    if keyword_stems & {stem(word) for word in content_words(name)}:
        return True
    if not keywords:
        return False
    name_vector, keywords_vector = embedder.embed([name, ", ".join(keywords)])
    return float(name_vector @ keywords_vector) >= NAME_TOPIC_COSINE


def keyword_name(keywords: Sequence[str], taken: Collection[str] = ()) -> str:
    """A name made from the top keywords ("sync · bank · connection"), one more keyword at
    a time while another theme has it."""
    parts: list[str] = []
    for keyword in keywords:
        if set(keyword.split()) <= {word for part in parts for word in part.split()}:
            continue  # "bank sync" after "bank" and "sync" adds nothing
        parts.append(keyword)
        name = " · ".join(parts)
        if len(parts) >= 3 and name.casefold() not in {other.casefold() for other in taken}:
            return name
    return " · ".join(parts) or "Unnamed theme"


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def content_words(text: str) -> list[str]:
    """The words of text that are not stop words."""
    return [word for word in _words(text) if word not in ENGLISH_STOP_WORDS and len(word) > 1]


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


# --- Pain-point summaries -------------------------------------------------------------------

# Shown to instruction-tuned models only: base models do better on the examples alone.
SUMMARY_INSTRUCTION = (
    'These complaints are about "{theme_name}". Restate the complaint as one neutral sentence '
    "in the third person, using only facts from the complaint."
)
# One complaint in, one neutral third-person statement out. Every example answer opens with
# "Users report", so a base model continues in kind instead of writing as a customer; the
# complaints carry greetings and asides, as real ones do, and the answers leave them out.
SUMMARY_EXAMPLES = (
    (
        "Complaint: My parcel arrived nine days after the promised date. Never again.\nStatement:",
        " Users report parcels arriving days after the promised date.",
    ),
    (
        "Complaint: Hi, tracking has said out for delivery since Monday and nobody answers "
        "the phone. Thanks, Ann\nStatement:",
        " Users report that tracking stops updating and nobody answers the phone.",
    ),
    (
        "Complaint: My Visa card is declined at checkout every time, it works everywhere "
        "else. So annoying.\nStatement:",
        " Users report cards declined at checkout although they work elsewhere.",
    ),
    (
        "Complaint: The white screen hurts my eyes at night, please add a dark mode!\nStatement:",
        " Users ask for a dark mode because the bright screen hurts at night.",
    ),
)
SUMMARY_QUERY = "Complaint: {quote}\nStatement:"
SUMMARY_LINE_TOKENS = 40
SUMMARY_TIMEOUT_S = 15.0
# Quotes closer than this say the same thing: one summary line covers them.
DUPLICATE_QUOTE_COSINE = 0.8
SUMMARY_MAX_SENTENCES = 3
# Each quote shown is cut to this many characters: the problem comes first in feedback, and
# shorter prompts are faster.
QUOTE_CHARS = 160
SUMMARY_QUOTES = 6  # quotes shown to the model: nearest the centre, negative only
EXTRACTIVE_QUOTES = 3
# Cosine between a sentence and the best of the quotes it cites, below which the sentence
# is not supported by them (measured: see test_describe and the report of this stage).
SUPPORT_COSINE = 0.5
# Words a summary may use without a quote saying them: how the examples open sentences.
ATTRIBUTION = re.compile(
    r"^(?:some |many |several )?(?:users|customers|people)\s+"
    r"(?:report|say|mention|complain|describe|find|note)s?(?:\s+that)?\s+",
    re.IGNORECASE,
)
CITATION = re.compile(r"\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class PainSummary:
    """Sentences with the item ids each cites, their SummaryKind, and why a generated
    summary was replaced (empty when it was not)."""

    sentences: list[dict[str, object]]
    kind: str
    note: str = ""
    generated_text: str = field(default="", compare=False)


@dataclass(frozen=True)
class DraftSentence:
    text: str
    refs: tuple[int, ...]  # 1-based positions in the quotes shown


def summary_prompt(quote: str, theme_name: str) -> FewShotPrompt:
    """The prompt for the summary sentence that rests on one quote."""
    return FewShotPrompt(
        instruction=SUMMARY_INSTRUCTION.format(theme_name=theme_name),
        examples=SUMMARY_EXAMPLES,
        query=SUMMARY_QUERY.format(quote=one_line(quote, QUOTE_CHARS)),
    )


def summarise_pain_points(
    quotes: Sequence[Quote], theme_name: str, llm: LocalLLM, embedder: Embedder
) -> PainSummary:
    """Return a summary of the quotes' pain points: the model's, if every sentence passes
    check_summary, else the top quotes themselves (SummaryKind.EXTRACTIVE, with the reason).
    """
    quotes = list(quotes[:SUMMARY_QUOTES])
    if not quotes:
        return PainSummary(sentences=[], kind=SummaryKind.NONE, note="No negative feedback.")
    lines, problem = _write_summary(quotes, theme_name, llm, embedder)
    generated = "\n".join(lines)
    drafts = parse_summary(generated)
    problem = problem or check_summary(drafts, quotes, embedder)
    if problem:
        note = f"The generated summary was not used: {problem}."
        return extractive_summary(quotes, note, generated_text=generated)
    sentences = [
        {"text": draft.text, "item_ids": sorted({quotes[ref - 1][0] for ref in draft.refs})}
        for draft in drafts
    ]
    return PainSummary(sentences, SummaryKind.GENERATED, generated_text=generated)


def _write_summary(
    quotes: Sequence[Quote], theme_name: str, llm: LocalLLM, embedder: Embedder
) -> tuple[list[str], str]:
    """Return "- [ref] sentence" lines, one per distinct quote, and a problem if the model
    ran out of tokens or time.

    One sentence per quote, and the citation is the quote it was written from: given all
    quotes at once and left to cite them itself, the packaged 270M base model copied the
    examples' sentences and citations and repeated one line (on the demo themes no summary
    out of 11 passed the checks)."""
    lines: list[str] = []
    for ref in distinct_quotes(quotes, embedder):
        completion = llm.complete(
            llm.render(summary_prompt(quotes[ref - 1][1], theme_name)),
            max_tokens=SUMMARY_LINE_TOKENS,
            stop=["\n"],
            timeout_s=SUMMARY_TIMEOUT_S,
        )
        sentence = first_sentence(completion.text)
        # Running out of tokens is fine once the first sentence is complete.
        if completion.finish_reason != "stop" and not sentence.endswith((".", "!", "?")):
            return lines, f"sentence {len(lines) + 1} was cut off"
        lines.append(f"- [{ref}] {sentence}")
    return lines, ""


def first_sentence(text: str) -> str:
    """The first sentence: the model often goes on to copy the rest of the complaint."""
    return re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]


def distinct_quotes(quotes: Sequence[Quote], embedder: Embedder) -> list[int]:
    """Return the 1-based positions of up to SUMMARY_MAX_SENTENCES quotes, nearest the
    centre first, leaving out near-duplicates of one already chosen."""
    vectors = embedder.embed([one_line(text, QUOTE_CHARS) for _, text in quotes])
    chosen: list[int] = []
    for index, vector in enumerate(vectors):
        if all(float(vector @ vectors[other]) < DUPLICATE_QUOTE_COSINE for other in chosen):
            chosen.append(index)
        if len(chosen) == SUMMARY_MAX_SENTENCES:
            break
    return [index + 1 for index in chosen]


def parse_summary(text: str) -> list[DraftSentence]:
    """Read "- [1, 3] sentence" lines (citations may also follow the sentence); a line
    without citations keeps an empty refs."""
    drafts: list[DraftSentence] = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*•").strip()
        if not line:
            continue
        refs = tuple(int(ref) for found in CITATION.findall(line) for ref in found.split(","))
        sentence = " ".join(CITATION.sub(" ", line).split()).strip(" -:")
        sentence = re.sub(r"\s+([.,;:!?])", r"\1", sentence)
        drafts.append(DraftSentence(sentence, tuple(dict.fromkeys(refs))))
    return drafts


def check_summary(
    drafts: Sequence[DraftSentence], quotes: Sequence[Quote], embedder: Embedder
) -> str:
    """Return why the drafted summary cannot be used, or "" when every sentence is
    grounded in the quotes it cites."""
    if not drafts:
        return "the model wrote no sentence"
    if len(drafts) > SUMMARY_MAX_SENTENCES:
        return f"it wrote {len(drafts)} sentences, more than {SUMMARY_MAX_SENTENCES}"
    keys = [_normalise(draft.text) for draft in drafts]
    if len(set(keys)) != len(keys):
        return "it repeats a sentence"
    for position, draft in enumerate(drafts, 1):
        problem = _sentence_problem(draft, quotes)
        if problem:
            return f"sentence {position} {problem}"
    return _support_problem(drafts, quotes, embedder)


def _sentence_problem(draft: DraftSentence, quotes: Sequence[Quote]) -> str:
    words = _words(draft.text)
    if len(words) < 3:
        return "is too short"
    if not draft.refs:
        return "cites no quote"
    if any(not 1 <= ref <= len(quotes) for ref in draft.refs):
        return "cites a quote that was not given"
    if is_repetitive(words, ngram=3):
        return "repeats itself"
    if FIRST_PERSON & set(words):
        return "is written in the first person"
    cited = " ".join(quotes[ref - 1][1] for ref in draft.refs)
    unsupported = _unsupported_details(draft.text, cited)
    if unsupported:
        return f"mentions {', '.join(unsupported)}, which its quotes do not"
    return ""


def _unsupported_details(sentence: str, cited: str) -> list[str]:
    """Numbers and capitalised words (names) in the sentence that the cited quotes lack."""
    quoted_numbers = set(NUMBER.findall(cited))
    quoted_words = set(_words(cited))
    missing = [number for number in NUMBER.findall(sentence) if number not in quoted_numbers]
    # The first word is capitalised because it starts the sentence, not because it names.
    for word in re.findall(r"[\w']+", sentence)[1:]:
        if word[0].isupper() and word.lower() not in quoted_words:
            missing.append(word)
    return missing


def _support_problem(
    drafts: Sequence[DraftSentence], quotes: Sequence[Quote], embedder: Embedder
) -> str:
    similarity = support_similarities(drafts, quotes, embedder)
    for position, value in enumerate(similarity, 1):
        if value < SUPPORT_COSINE:
            return (
                f"sentence {position} does not match the quotes it cites "
                f"(similarity {value:.2f} < {SUPPORT_COSINE})"
            )
    return ""


def support_similarities(
    drafts: Sequence[DraftSentence], quotes: Sequence[Quote], embedder: Embedder
) -> list[float]:
    """Return, per sentence, the cosine between it (without "Users report that") and the
    nearest of the quotes it cites."""
    sentences = embedder.embed([ATTRIBUTION.sub("", draft.text) for draft in drafts])
    quote_vectors = embedder.embed([one_line(text, QUOTE_CHARS) for _, text in quotes])
    return [
        float(max(quote_vectors[ref - 1] @ vector for ref in draft.refs))
        for draft, vector in zip(drafts, sentences, strict=True)
    ]


def extractive_summary(quotes: Sequence[Quote], note: str, generated_text: str = "") -> PainSummary:
    """The top quotes as the summary, each citing its own item."""
    sentences: list[dict[str, object]] = [
        {"text": one_line(text, 280), "item_ids": [item_id]}
        for item_id, text in quotes[:EXTRACTIVE_QUOTES]
    ]
    return PainSummary(sentences, SummaryKind.EXTRACTIVE, note[:300], generated_text)


# --- Describing stored themes ---------------------------------------------------------------

# A theme is described again once its size has changed by more than this share.
REDESCRIBE_CHANGE = 0.2
REPRESENTATIVE_ITEMS = 5


def describe_themes(
    theme_ids: Iterable[int],
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Give each theme that is due (see is_due; all of them if force) keywords,
    representative items, a name and a pain-point summary; return how many were described.
    A name a person gave is never replaced. on_progress(done, total) follows each theme."""
    themes = [
        theme for theme in Theme.objects.filter(pk__in=list(theme_ids)) if force or is_due(theme)
    ]
    if not themes:
        return 0
    keywords = theme_keywords(_texts_by_theme())
    llm, embedder = configured_llm(), configured_embedder()
    version = model_version(llm)
    taken = {
        theme_id: name
        for theme_id, name in Theme.objects.exclude(status=ThemeStatus.RETIRED).values_list(
            "id", "name"
        )
    }
    for done, theme in enumerate(themes, 1):
        others = [name for theme_id, name in taken.items() if theme_id != theme.pk]
        _describe(theme, keywords.get(theme.pk, []), others, (llm, version), embedder)
        theme.save(update_fields=DESCRIBED_FIELDS)
        taken[theme.pk] = theme.name
        if on_progress:
            on_progress(done, len(themes))
    return len(themes)


DESCRIBED_FIELDS = [
    "name",
    "name_source",
    "keywords",
    "representative_item_ids",
    "pain_summary",
    "summary_kind",
    "summary_note",
    "name_model",
    "summary_model",
    "prompt_version",
    "described_size",
    "described_at",
    "updated_at",
]


def is_due(theme: Theme) -> bool:
    """Whether the theme was never described or has changed size by more than
    REDESCRIBE_CHANGE since it was."""
    if theme.described_at is None:
        return True
    return abs(theme.size - theme.described_size) > REDESCRIBE_CHANGE * theme.described_size


def _describe(
    theme: Theme,
    keywords: list[str],
    taken: list[str],
    model: tuple[LocalLLM, ModelVersion],
    embedder: Embedder,
) -> None:
    """Set the theme's description fields (without saving). The model fields name the model
    that was asked, whether its answer was kept or replaced."""
    llm, version = model
    representatives = representative_items(theme, REPRESENTATIVE_ITEMS)
    theme.keywords = keywords
    theme.representative_item_ids = [item_id for item_id, _ in representatives]
    if theme.name_source != NameSource.PERSON:
        theme.name, theme.name_source = name_theme(
            keywords, representatives, llm, taken=taken, embedder=embedder
        )
        theme.name_model = version
    summary = summarise_pain_points(
        nearest_items(theme, SUMMARY_QUOTES, negative_only=True), theme.name, llm, embedder
    )
    theme.pain_summary = summary.sentences
    theme.summary_kind = summary.kind
    theme.summary_note = summary.note
    theme.summary_model = version if summary.kind != SummaryKind.NONE else None
    theme.prompt_version = DESCRIBE_PROMPT_VERSION
    theme.described_size = theme.size
    theme.described_at = timezone.now()


def _texts_by_theme() -> dict[int, list[str]]:
    """Up to KEYWORD_TEXTS_PER_THEME texts of every theme that has items, nearest first."""
    rows = ThemeAssignment.objects.order_by("theme_id", "-similarity").values_list(
        "theme_id", "item__text"
    )
    texts: dict[int, list[str]] = {}
    for theme_id, text in rows.iterator(chunk_size=2000):
        bucket = texts.setdefault(theme_id, [])
        if len(bucket) < KEYWORD_TEXTS_PER_THEME:
            bucket.append(text)
    return texts
