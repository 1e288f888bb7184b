"""Theme names from the local language model, checked: short, new, on topic, not a loop;
otherwise made from the theme's keywords."""

from collections.abc import Collection, Sequence
from typing import NamedTuple

from insights.models import NameSource
from insights.pipeline.describing.quotes import Quote
from insights.wording import (
    FIRST_PERSON,
    comparable,
    content_words,
    is_repetitive,
    one_line,
    stem,
    words_of,
)
from llm.interfaces import TextEmbedder, TextGenerator
from llm.prompts import FewShotPrompt

# Recorded on each theme with its name: a theme is named again when this changes. Change it
# whenever the prompt below (instruction, examples, query, quotes shown) changes.
NAME_PROMPT_VERSION = "name-1"
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
# Cosine between a name and its keywords above which a name that shares no word stem with
# them still counts as on topic. Measured with all-MiniLM-L6-v2 (2026-12-03) against the login
# keywords of tests/insights/test_describe.py: paraphrases sharing no word ("Authentication
# issues", "Sign-in problems") scored 0.39-0.47, off-topic names ("Dinner", "Late parcel
# deliveries") -0.02-0.18. So 0.5 lets in only names very close to the keywords; sharing a
# word stem is the usual way a name passes.
NAME_TOPIC_COSINE = 0.5
NAME_QUOTES_SHOWN = 3


def name_prompt(quotes: Sequence[Quote]) -> FewShotPrompt:
    shown = " | ".join(f'"{one_line(text, 120)}"' for _, text in quotes[:NAME_QUOTES_SHOWN])
    query = NAME_QUERY.format(quotes=shown)
    return FewShotPrompt(instruction=NAME_INSTRUCTION, examples=NAME_EXAMPLES, query=query)


class ThemeName(NamedTuple):
    name: str
    source: str  # a NameSource
    prompt: str  # the text the model was sent


def name_theme(
    keywords: Sequence[str],
    quotes: Sequence[Quote],
    llm: TextGenerator,
    embedder: TextEmbedder,
    taken: Collection[str] = (),
) -> ThemeName:
    """Return the model's name (NameSource.LLM) if it passes check_name, else one made from
    the keywords (NameSource.KEYWORDS), with the prompt sent. taken: the names of the other
    themes."""
    prompt = llm.render(name_prompt(quotes))
    completion = llm.complete(
        prompt, max_tokens=NAME_MAX_TOKENS, stop=["\n"], timeout_s=NAME_TIMEOUT_S
    )
    name = clean_name(completion.text)
    if check_name(name, keywords, quotes, taken, embedder):
        return ThemeName(keyword_name(keywords, taken), NameSource.KEYWORDS, prompt)
    return ThemeName(name, NameSource.LLM, prompt)


def clean_name(text: str) -> str:
    """The name without quotes, a trailing full stop or spare spaces."""
    name = " ".join(text.split()).strip(" \"'“”`*-")
    return name.removesuffix(".").strip()


def check_name(
    name: str,
    keywords: Sequence[str],
    quotes: Sequence[Quote],
    taken: Collection[str],
    embedder: TextEmbedder,
) -> str:
    """Return why the name is not acceptable, or "" when it is."""
    words = name.lower().split()
    if not words:
        return "the name is empty"
    if len(words) > NAME_MAX_WORDS or len(name) > NAME_MAX_CHARS:
        return "the name is too long"
    if is_repetitive(content_words(name), ngram=1) or is_repetitive(words, ngram=2):
        return "the name repeats itself"
    if FIRST_PERSON & set(words_of(name)):
        return "the name is written in the first person"
    if _copies_a_quote(name, quotes):
        return "the name copies a quote"
    if name.casefold() in {other.casefold() for other in taken}:
        return "another theme has this name"
    invented = _inventedwords_of(name, keywords, quotes)
    if len(invented) > 1:
        return f"the name uses words that neither keywords nor quotes have: {', '.join(invented)}"
    if not _on_topic(name, keywords, embedder):
        return "the name is not about the keywords"
    return ""


def _copies_a_quote(name: str, quotes: Sequence[Quote]) -> bool:
    # Short phrases such as "bank sync" are fine even if a customer wrote them; a whole
    # quote, or five words straight out of one, is not a name.
    normalised = comparable(name)
    for _, text in quotes:
        quote = comparable(text)
        if normalised == quote or (len(normalised.split()) >= 5 and normalised in quote):
            return True
    return False


def _inventedwords_of(name: str, keywords: Sequence[str], quotes: Sequence[Quote]) -> list[str]:
    # One new word is how a name generalises ("requests", "failures"); more and the model
    # is copying an example's name ("declined at checkout").
    known = " ".join([*keywords, *(text for _, text in quotes)])
    known_stems = {stem(word) for word in words_of(known)}
    return [word for word in content_words(name) if stem(word) not in known_stems]


def _on_topic(name: str, keywords: Sequence[str], embedder: TextEmbedder) -> bool:
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
