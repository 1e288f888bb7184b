"""Theme names chosen, not written. The candidates are the theme's own phrases, most
distinctive first (insights.pipeline.themes.keywords.theme_phrases): each says something this
theme's items say and the other themes' do not. Each is ranked two ways: by how likely the
language model finds it as the problem a few of the theme's quotes describe, and by how
well its embedding picks out this theme among all of them (near this theme's centre and
far from every other's: contrast, as kura's names are written against neighbouring
clusters). The candidate with the best sum of ranks is the name, as customers wrote it.
Where no phrase of two or more words qualifies, the name is made from the keywords and
says so (NameSource.KEYWORDS).

A base model as small as the packaged one cannot write a name a person would keep (it
proposed "Payment declined at checkout" for a screen-freeze theme); it can tell which of a
theme's own phrases fits its quotes best.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from insights.models import NameSource
from insights.pipeline.describing.quotes import Quote
from insights.pipeline.themes.keywords import Phrase
from insights.wording import one_line, stems_of, written_form
from llm.interfaces import PhraseScorer, TextEmbedder
from llm.prompts import FewShotPrompt

# Recorded on each theme with its name: a theme is named again when this changes. Change it
# whenever the prompt below, the candidates or the way one is chosen changes.
NAME_PROMPT_VERSION = "name-6"
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
# Phrases the model scores: the most distinctive few (each costs a few one-token steps).
NAME_CANDIDATES = 8
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
    other theme's name says already (same word stems)."""
    taken_stems = {tuple(sorted(stems_of(name))) for name in taken}
    return [
        phrase
        for phrase in phrases
        if NAME_MIN_WORDS <= phrase.words <= NAME_MAX_WORDS
        and tuple(sorted(stems_of(phrase.text))) not in taken_stems
    ][:NAME_CANDIDATES]


@dataclass(frozen=True)
class ThemeText:
    """What a theme is named from: its phrases (most distinctive first), keywords, a few
    quotes, its texts (for the customers' spelling), its centre in embedding space and the
    other themes' centres."""

    phrases: Sequence[Phrase]
    keywords: Sequence[str]
    quotes: Sequence[Quote]
    texts: Sequence[str]
    centre: np.ndarray | None  # unit length; None: no centre to compare with
    other_centres: np.ndarray | None = None  # one unit-length row per other live theme


def name_theme(
    theme: ThemeText,
    models: tuple[PhraseScorer, TextEmbedder],
    taken: Collection[str] = (),
) -> ThemeName:
    """Return the candidate phrase (see name_candidates) with the best sum of ranks (see
    choose) as NameSource.CHOSEN, as the theme's texts (or else its quotes) most often
    write it; or, without candidates, a name made from the keywords (NameSource.KEYWORDS).
    taken: the other themes' names."""
    scorer, embedder = models
    candidates = name_candidates(theme.phrases, taken)
    if not candidates:
        return ThemeName(keyword_name(theme.keywords, taken), NameSource.KEYWORDS, "")
    prompt = scorer.render(name_prompt(theme.quotes))
    texts = [phrase.text for phrase in candidates]
    log_probs = scorer.continuation_logprobs(prompt, texts)
    contrasts = picking_out(embedder.embed(texts), theme.centre, theme.other_centres)
    best = choose(log_probs, contrasts)
    record = prompt + "\n\n" + _scores_table(candidates, (log_probs, contrasts), best)
    spelled = theme.texts or [text for _, text in theme.quotes]
    name = as_name(written_form(candidates[best].text, spelled))
    return ThemeName(name, NameSource.CHOSEN, record)


def choose(*scores: Sequence[float]) -> int:
    """Return the position of the candidate with the best sum of its ranks by each of
    scores (higher is better). Ranks, not scores, so no scale has to be weighed against
    another; a tie goes to the earlier, more distinctive phrase."""
    total = [0] * len(scores[0]) if scores else []
    for score in scores:
        order = sorted(range(len(score)), key=lambda i: (-score[i], i))
        for rank, position in enumerate(order):
            total[position] += rank
    return min(range(len(total)), key=lambda i: (total[i], i))


def picking_out(
    vectors: np.ndarray, centre: np.ndarray | None, other_centres: np.ndarray | None
) -> list[float]:
    """How well each unit-length vector picks out the theme: its cosine to the theme's
    centre less its highest cosine to another theme's centre (the plain cosine where there
    is no other; 0 where there is no centre). Measured on Banking77 (docs/benchmarks.md),
    names ranked by this matched their intent more often than names ranked by the plain
    cosine, which favours phrases every neighbouring theme says too."""
    if centre is None or not len(centre):
        return [0.0] * len(vectors)
    own = vectors @ centre
    if other_centres is None or not len(other_centres):
        return own.tolist()
    return (own - (vectors @ other_centres.T).max(axis=1)).tolist()


def as_name(phrase: str) -> str:
    """The phrase as a name: its first letter a capital unless the customers' form has
    one further in ("iPhone" stays)."""
    if phrase[:1].islower() and not any(c.isupper() for c in phrase.split()[0]):
        return phrase[0].upper() + phrase[1:]
    return phrase


def _scores_table(
    candidates: Sequence[Phrase], scores: tuple[Sequence[float], Sequence[float]], best: int
) -> str:
    lines = ["Candidates (c-TF-IDF order; mean token log-probability; picks out the theme; items):"]
    for position, phrase in enumerate(candidates):
        log_prob, contrast = scores[0][position], scores[1][position]
        mark = "  <- chosen" if position == best else ""
        lines.append(
            f"{position + 1}. {phrase.text}; {log_prob:.3f}; {contrast:.3f}; {phrase.items}{mark}"
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
