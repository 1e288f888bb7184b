"""Pain-point summaries from the local language model, in which every sentence cites the
quotes it rests on and must be supported by them; otherwise the top quotes, marked so."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from insights.models import SummaryKind
from insights.pipeline.describing.checks import unsupported_details
from insights.pipeline.describing.quotes import Quote
from insights.wording import FIRST_PERSON, comparable, is_repetitive, one_line, words_of
from llm.interfaces import TextEmbedder, TextGenerator
from llm.prompts import PROMPT_SEPARATOR, FewShotPrompt

# Recorded on each theme with its summary: a theme is summarised again when this changes.
# Change it whenever the prompt below (instruction, examples, query, quote length) changes.
SUMMARY_PROMPT_VERSION = "summary-1"
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
# is not supported by them. In tests/insights/test_describe.py a sentence that restates
# its quotes scores above 0.6 and one about something else below 0.3; `make eval` counts
# how many generated summaries pass (docs/benchmarks.md, "Pain points").
SUPPORT_COSINE = 0.5
# Words a summary may use without a quote saying them: how the examples open sentences.
ATTRIBUTION = re.compile(
    r"^(?:some |many |several )?(?:users|customers|people)\s+"
    r"(?:report|say|mention|complain|describe|find|note)s?(?:\s+that)?\s+",
    re.IGNORECASE,
)
CITATION = re.compile(r"\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")


@dataclass(frozen=True)
class PainSummary:
    """Sentences with the item ids each cites, their SummaryKind, why a generated summary
    was replaced (empty when it was not), and the prompts sent (empty when none was)."""

    sentences: list[dict[str, object]]
    kind: str
    note: str = ""
    generated_text: str = field(default="", compare=False)
    prompt: str = field(default="", compare=False)


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
    quotes: Sequence[Quote], theme_name: str, llm: TextGenerator, embedder: TextEmbedder
) -> PainSummary:
    """Return a summary of the quotes' pain points: the model's, if every sentence passes
    check_summary, else the top quotes themselves (SummaryKind.EXTRACTIVE, with the reason).
    """
    quotes = list(quotes[:SUMMARY_QUOTES])
    if not quotes:
        return PainSummary(sentences=[], kind=SummaryKind.NONE, note="No negative feedback.")
    written = _write_summary(quotes, theme_name, llm, embedder)
    generated = "\n".join(written.lines)
    prompt = PROMPT_SEPARATOR.join(written.prompts)
    drafts = parse_summary(generated)
    problem = written.problem or check_summary(drafts, quotes, embedder)
    if problem:
        note = f"The generated summary was not used: {problem}."
        return extractive_summary(quotes, note, generated_text=generated, prompt=prompt)
    sentences: list[dict[str, object]] = [
        {"text": draft.text, "item_ids": sorted({quotes[ref - 1][0] for ref in draft.refs})}
        for draft in drafts
    ]
    return PainSummary(sentences, SummaryKind.GENERATED, generated_text=generated, prompt=prompt)


@dataclass(frozen=True)
class WrittenSummary:
    lines: list[str]  # "- [ref] sentence"
    problem: str  # why the model's text cannot be used, or ""
    prompts: list[str]  # the texts the model was sent, one a line


def _write_summary(
    quotes: Sequence[Quote], theme_name: str, llm: TextGenerator, embedder: TextEmbedder
) -> WrittenSummary:
    """Return "- [ref] sentence" lines, one per distinct quote, a problem if the model ran
    out of tokens or time, and the prompts sent.

    One sentence per quote, and the citation is the quote it was written from: given all
    quotes at once and left to cite them itself, the packaged 270M base model copied the
    examples' sentences and citations and repeated one line (on the demo themes no summary
    out of 11 passed the checks)."""
    lines: list[str] = []
    prompts: list[str] = []
    for ref in distinct_quotes(quotes, embedder):
        prompts.append(llm.render(summary_prompt(quotes[ref - 1][1], theme_name)))
        completion = llm.complete(
            prompts[-1],
            max_tokens=SUMMARY_LINE_TOKENS,
            stop=["\n"],
            timeout_s=SUMMARY_TIMEOUT_S,
        )
        sentence = first_sentence(completion.text)
        # Running out of tokens is fine once the first sentence is complete.
        if completion.finish_reason != "stop" and not sentence.endswith((".", "!", "?")):
            return WrittenSummary(lines, f"sentence {len(lines) + 1} was cut off", prompts)
        lines.append(f"- [{ref}] {sentence}")
    return WrittenSummary(lines, "", prompts)


def first_sentence(text: str) -> str:
    """The first sentence: the model often goes on to copy the rest of the complaint."""
    return re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]


def distinct_quotes(quotes: Sequence[Quote], embedder: TextEmbedder) -> list[int]:
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
    drafts: Sequence[DraftSentence], quotes: Sequence[Quote], embedder: TextEmbedder
) -> str:
    """Return why the drafted summary cannot be used, or "" when every sentence is
    grounded in the quotes it cites."""
    if not drafts:
        return "the model wrote no sentence"
    if len(drafts) > SUMMARY_MAX_SENTENCES:
        return f"it wrote {len(drafts)} sentences, more than {SUMMARY_MAX_SENTENCES}"
    keys = [comparable(draft.text) for draft in drafts]
    if len(set(keys)) != len(keys):
        return "it repeats a sentence"
    for position, draft in enumerate(drafts, 1):
        problem = _sentence_problem(draft, quotes)
        if problem:
            return f"sentence {position} {problem}"
    return _support_problem(drafts, quotes, embedder)


def _sentence_problem(draft: DraftSentence, quotes: Sequence[Quote]) -> str:
    words = words_of(draft.text)
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
    unsupported = unsupported_details(draft.text, cited)
    if unsupported:
        return f"mentions {', '.join(unsupported)}, which its quotes do not"
    return ""


def _support_problem(
    drafts: Sequence[DraftSentence], quotes: Sequence[Quote], embedder: TextEmbedder
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
    drafts: Sequence[DraftSentence], quotes: Sequence[Quote], embedder: TextEmbedder
) -> list[float]:
    """Return, per sentence, the cosine between it (without "Users report that") and the
    nearest of the quotes it cites."""
    sentences = embedder.embed([ATTRIBUTION.sub("", draft.text) for draft in drafts])
    quote_vectors = embedder.embed([one_line(text, QUOTE_CHARS) for _, text in quotes])
    return [
        float(max(quote_vectors[ref - 1] @ vector for ref in draft.refs))
        for draft, vector in zip(drafts, sentences, strict=True)
    ]


def extractive_summary(
    quotes: Sequence[Quote], note: str, generated_text: str = "", prompt: str = ""
) -> PainSummary:
    """The top quotes as the summary, each citing its own item."""
    sentences: list[dict[str, object]] = [
        {"text": one_line(text, 280), "item_ids": [item_id]}
        for item_id, text in quotes[:EXTRACTIVE_QUOTES]
    ]
    return PainSummary(sentences, SummaryKind.EXTRACTIVE, note[:300], generated_text, prompt)
