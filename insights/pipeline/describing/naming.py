"""Theme names chosen, not written. The candidates are the theme's own phrases, most
distinctive first (insights.pipeline.themes.keywords.theme_phrases): each says something this
theme's items say and the other themes' do not. Each is ranked by how well it finds this
theme's items when used as a search query among a sample of every theme's items (contrast,
as kura's names are written against neighbouring clusters); among those that find it
equally well (common in small themes), by how many of the theme's items write it, then by
how likely the language model finds it as the problem a few of the theme's quotes
describe. The best is the name, as customers wrote it.
Where no phrase of two or more words qualifies, the name is made from the keywords and
says so (NameSource.KEYWORDS).

A base model as small as the packaged one cannot write a name a person would keep (it
proposed "Payment declined at checkout" for a screen-freeze theme). Measured on Banking77,
its preference among a theme's phrases matched the theme's intent less often than the
search-query test did (docs/research/theme-names.md), so it only breaks the last ties.
"""

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import numpy as np

from insights.models import NameSource
from insights.pipeline.describing.quotes import Quote
from insights.pipeline.themes.keywords import Phrase
from insights.wording import one_line, stems_of, written_form
from llm.interfaces import PhraseScorer, TextEmbedder
from llm.prompts import FewShotPrompt

# Recorded on each theme with its name: a theme is named again when this changes. Change it
# whenever the prompt below, the candidates or the way one is chosen changes.
NAME_PROMPT_VERSION = "name-7"
NAME_INSTRUCTION = (
    "Each group of customer feedback is followed by the problem it describes, in a few "
    "words the customers used."
)
# Examples from products unlike the customer's; each answer is words of its feedback, as
# every candidate is.
NAME_EXAMPLES = (
    (
        'Feedback: "My parcel arrived nine days late." | "Tracking has said out for delivery '
        'since Monday."\n'
        "The problem:",
        " parcel arrived days late",
    ),
    (
        'Feedback: "Please add a dark mode, the white screen hurts at night." | "Any plans '
        'for a dark theme?"\n'
        "The problem:",
        " no dark mode",
    ),
    (
        'Feedback: "My Visa card is declined at checkout every time." | "Payment fails at '
        'the last step."\n'
        "The problem:",
        " card declined at checkout",
    ),
)
NAME_QUERY = "Feedback: {quotes}\nThe problem:"
NAME_QUOTES_SHOWN = 3
# Phrases tried: the most distinctive few (each costs the model a few one-token steps).
# Measured on Banking77 (docs/research/theme-names.md): 12 found a matching name more
# often than 8, and 16 hardly more than 12.
NAME_CANDIDATES = 12
NAME_MIN_WORDS = 2
NAME_MAX_WORDS = 6


class ThemeName(NamedTuple):
    name: str
    source: str  # a NameSource
    prompt: str  # what the model was sent and how each candidate scored ("" for none)


def name_prompt(quotes: Sequence[Quote]) -> FewShotPrompt:
    shown = " | ".join(f'"{one_line(text, 120)}"' for _, text in quotes[:NAME_QUOTES_SHOWN])
    query = NAME_QUERY.format(quotes=shown)
    return FewShotPrompt(instruction=NAME_INSTRUCTION, examples=NAME_EXAMPLES, query=query)


def name_candidates(phrases: Sequence[Phrase], taken: Collection[str] = ()) -> list[Phrase]:
    """The first NAME_CANDIDATES phrases that are long enough to name a problem and that no
    other theme's name says already (see same_name)."""
    taken_stems = {same_name(name) for name in taken}
    return [
        phrase
        for phrase in phrases
        if NAME_MIN_WORDS <= phrase.words <= NAME_MAX_WORDS
        and same_name(phrase.text) not in taken_stems
    ][:NAME_CANDIDATES]


def same_name(name: str) -> tuple[str, ...]:
    """What two names that say the same thing share: their word stems, in any order."""
    return tuple(sorted(stems_of(name)))


# Items of each theme that a name is tried against: enough to tell a theme from its
# neighbours, few enough that hundreds of themes fit in memory (500 themes: 150 MB).
NEIGHBOURHOOD_ITEMS_PER_THEME = 200


Row = TypeVar("Row")


def spread_positions(count: int) -> np.ndarray:
    """Positions of at most NEIGHBOURHOOD_ITEMS_PER_THEME of count rows, evenly from the
    first to the last."""
    if count <= NEIGHBOURHOOD_ITEMS_PER_THEME:
        return np.arange(count)
    return np.linspace(0, count - 1, NEIGHBOURHOOD_ITEMS_PER_THEME).round().astype(int)


def spread(rows: Sequence[Row]) -> list[Row]:
    """At most NEIGHBOURHOOD_ITEMS_PER_THEME of rows (nearest the centre first), evenly
    from the nearest to the farthest: what Neighbourhood.of keeps of a theme."""
    return [rows[i] for i in spread_positions(len(rows)).tolist()]


@dataclass(frozen=True)
class Neighbourhood:
    """A sample of every live theme's items in embedding space, each row with its theme:
    what a name is tried against as a search query."""

    vectors: np.ndarray  # unit-length rows
    themes: np.ndarray  # the theme of each row

    @classmethod
    def of(cls, members: Mapping[Hashable, np.ndarray]) -> "Neighbourhood | None":
        """Sample each theme's item vectors (rows nearest its centre first) evenly from
        the nearest to the farthest, at most NEIGHBOURHOOD_ITEMS_PER_THEME each; None when
        there are none."""
        vectors, themes = [], []
        for theme, rows in members.items():
            sampled = rows[spread_positions(len(rows))]
            vectors.append(sampled)
            themes.extend([theme] * len(sampled))
        if not themes:
            return None
        return cls(np.concatenate(vectors), np.array(themes, dtype=object))


@dataclass(frozen=True)
class ThemeText:
    """What a theme is named from: its phrases (most distinctive first), keywords, a few
    quotes, its texts (for the customers' spelling), and where it sits among the themes
    (its key in the neighbourhood; None: nowhere to try names against)."""

    phrases: Sequence[Phrase]
    keywords: Sequence[str]
    quotes: Sequence[Quote]
    texts: Sequence[str]
    theme: Hashable = None
    neighbourhood: Neighbourhood | None = None


def name_theme(
    theme: ThemeText,
    models: tuple[PhraseScorer, TextEmbedder],
    taken: Collection[str] = (),
) -> ThemeName:
    """Return the candidate phrase (see name_candidates) that best finds the theme's items
    (finds_theme), ties going to the phrase more items write, then to the one the model
    finds likelier (see choose), as NameSource.CHOSEN and
    as the theme's texts (or else its quotes) most often write it; or, without candidates,
    a name made from the keywords (NameSource.KEYWORDS). taken: the other themes' names."""
    scorer, embedder = models
    candidates = name_candidates(theme.phrases, taken)
    if not candidates:
        return ThemeName(keyword_name(theme.keywords, taken), NameSource.KEYWORDS, "")
    prompt = scorer.render(name_prompt(theme.quotes))
    texts = [phrase.text for phrase in candidates]
    log_probs = scorer.continuation_logprobs(prompt, texts)
    found = finds_theme(embedder.embed(texts), theme.neighbourhood, theme.theme)
    best = choose(found, [phrase.items for phrase in candidates], log_probs)
    record = prompt + "\n\n" + _scores_table(candidates, (log_probs, found), best)
    spelled = theme.texts or [text for _, text in theme.quotes]
    name = as_name(written_form(candidates[best].text, spelled))
    return ThemeName(name, NameSource.CHOSEN, record)


def choose(*scores: Sequence[float]) -> int:
    """Return the position of the candidate best by the first of scores (higher is
    better), ties broken by the next, and so on; a tie in all goes to the earlier, more
    distinctive phrase."""
    count = len(scores[0]) if scores else 0
    return min(range(count), key=lambda i: ([-score[i] for score in scores], i))


def finds_theme(
    vectors: np.ndarray, neighbourhood: Neighbourhood | None, theme: Hashable
) -> list[float]:
    """How well each unit-length vector, used as a search query, finds the theme: of the
    neighbourhood's k rows nearest it, the share that are the theme's, where k is how many
    the theme has there (R-precision; 0 for all without the theme in a neighbourhood).
    Measured on Banking77 (docs/research/theme-names.md), names ranked by this matched their
    intent more often than names ranked by their cosine to the theme's centre, with or
    without the other themes' centres: a theme is rarely a ball around its centre."""
    if neighbourhood is None:
        return [0.0] * len(vectors)
    own = neighbourhood.themes == theme
    k = int(own.sum())
    if not k or not len(vectors):
        return [0.0] * len(vectors)
    similarity = vectors @ neighbourhood.vectors.T
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    return own[nearest].mean(axis=1).tolist()


def as_name(phrase: str) -> str:
    """The phrase as a name: its first letter a capital unless the customers' form has
    one further in ("iPhone" stays)."""
    if phrase[:1].islower() and not any(c.isupper() for c in phrase.split()[0]):
        return phrase[0].upper() + phrase[1:]
    return phrase


def _scores_table(
    candidates: Sequence[Phrase], scores: tuple[Sequence[float], Sequence[float]], best: int
) -> str:
    lines = ["Candidates (c-TF-IDF order; mean token log-probability; finds the theme; items):"]
    for position, phrase in enumerate(candidates):
        log_prob, found = scores[0][position], scores[1][position]
        mark = "  <- chosen" if position == best else ""
        lines.append(
            f"{position + 1}. {phrase.text}; {log_prob:.3f}; {found:.3f}; {phrase.items}{mark}"
        )
    return "\n".join(lines)


def keyword_name(keywords: Sequence[str], taken: Collection[str] = ()) -> str:
    """A name made from the top keywords ("sync · bank · connection"), one more keyword at
    a time while another theme has it: the fallback, marked NameSource.KEYWORDS."""
    parts: list[str] = []
    for keyword in keywords:
        if set(keyword.split()) <= {word for part in parts for word in part.split()}:
            continue  # "bank sync" after "bank" and "sync" adds nothing
        parts.append(keyword)
        name = " · ".join(parts)
        if len(parts) >= 3 and name.casefold() not in {other.casefold() for other in taken}:
            return name
    return " · ".join(parts) or "Unnamed theme"
