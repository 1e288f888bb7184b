"""Product copy drafted by the local language model from themes' cards, summaries and quotes.

A draft is a job row (CopyDraft): the page creates it, a worker writes it theme by theme
(progress done/total), and people edit the Markdown afterwards. Where the theme has a
pain-point card and the model is a base model (no chat template: it cannot write text a
person keeps), code writes the candidate phrasings of the chosen kind from the card's
figures and phrases, and the model only picks the one it finds likeliest after the kind's
few-shot prompt; the draft says so. Otherwise the model completes that prompt; its text is
checked (not empty, not a loop, not in a customer's voice, no promise, no number or name the
feedback lacks, nothing borrowed from the examples) and replaced by a plain template from the
pain points and quotes when it fails, which the draft says. Every draft ends with the
feedback it rests on, linked.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse

from accounts.people import signed_in_person
from feedlens.jobs import carry_out, claim_job, heartbeat
from insights.local_models import model_version
from insights.models import CopyDraft, CopyKind, SummaryKind, Theme
from insights.pipeline.describing.checks import unsupported_details
from insights.pipeline.describing.quotes import Quote, cited_item_ids, first_distinct, theme_quotes
from insights.wording import content_words, is_repetitive, one_line, stem, words_of
from llm.interfaces import PhraseScorer, TextGenerator
from llm.prompts import PROMPT_SEPARATOR, FewShotPrompt

# Feedback each theme's copy rests on (and cites): enough to show the problem, few enough
# to keep the prompt short for a 2,048-token context.
QUOTES_PER_THEME = 4
QUOTE_CHARS = 160
CITED_QUOTE_CHARS = 100
# Drafting is per theme; more than this in one draft is a report, not copy.
MAX_THEMES = 5
COPY_TIMEOUT_S = 20.0
# A run of this many words seen twice is a generation loop (3 flags natural prose such as
# "the app. The app" in a paragraph; 4 did not on the examples).
LOOP_NGRAM = 4
MIN_WORDS = 4


class CopyError(Exception):
    """A draft that cannot be written, with the reason to show."""


# Recorded on every draft: drafts change when the prompts or checks do. Change it whenever
# the instruction, query, examples (EXAMPLE_MATERIAL, COPY_KINDS) or checks below change.
PROMPT_VERSION = "copy-2"
# Shown to instruction-tuned models only; base models complete the examples.
COPY_INSTRUCTION = (
    "Write the {kind_label} for the topic below from what customers said. Use only facts "
    "from their feedback: no dates, numbers, names or promises they did not give."
)
COPY_QUERY = "Topic: {theme_name}\nCustomers say: {pain_points}\nQuotes: {quotes}\n{cue}"


@dataclass(frozen=True)
class Material:
    """What one theme's copy is written from: its name, pain points and quotes."""

    theme_id: int
    name: str
    pain_points: tuple[str, ...]
    quotes: tuple[Quote, ...]
    # From the theme's card: its facets' phrases, most customers first, and how many
    # customers each has; empty without a card.
    facets: tuple[tuple[str, int], ...] = ()

    def known_text(self) -> str:
        """Everything the feedback says: what the copy may take names and numbers from."""
        facets = (f"{phrase} {count}" for phrase, count in self.facets)
        return " ".join([self.name, *self.pain_points, *facets, *(text for _, text in self.quotes)])


# Examples from products unlike the customer's, so the model cannot copy one that fits.
EXAMPLE_MATERIAL = (
    Material(
        0,
        "Late parcel deliveries",
        ("Users report parcels arriving days after the promised date.",),
        (
            Quote(0, "My parcel arrived nine days late."),
            Quote(0, "Tracking has said out for delivery for days."),
        ),
    ),
    Material(
        0,
        "Dark mode requests",
        ("Users ask for a dark mode because the bright screen hurts at night.",),
        (
            Quote(0, "Please add a dark mode, the white screen hurts at night."),
            Quote(0, "Any plans for a dark theme?"),
        ),
    ),
    Material(
        0,
        "Cards declined at checkout",
        ("Users report cards declined at checkout although they work elsewhere.",),
        (
            Quote(0, "My card is declined at checkout every time."),
            Quote(0, "Payment fails at the last step."),
        ),
    ),
)
# Topic words of the examples: in a draft they mean the model copied an example, unless the
# customer's own feedback uses them too.
EXAMPLE_TOPIC_WORDS = (
    "parcel",
    "tracking",
    "delivery",
    "dark",
    "card",
    "checkout",
    "payments",
)


@dataclass(frozen=True)
class KindSpec:
    """How one kind of copy is asked for, laid out and replaced by a template."""

    label: str  # in the instruction
    title: str  # the draft's heading
    cue: str  # ends the prompt; the model writes after it
    answers: tuple[str, str, str]  # the examples' answers, one per EXAMPLE_MATERIAL
    max_tokens: int
    # Fallback text with {name} and {pain}: plain facts and blanks for a person to fill.
    template: str
    # A list item per theme (changelog) instead of a section with the theme's name.
    as_list: bool = False
    # Phrasings code fills from a card ({name}, {facet}, {facets}, {customers}); a base model
    # picks one. Several, so that the model has a choice of wording, never of facts.
    phrasings: tuple[str, ...] = ()


COPY_KINDS: dict[str, KindSpec] = {
    CopyKind.RELEASE_NOTE: KindSpec(
        label="release-note entry announcing a fix",
        title="Release notes",
        cue="Release note:",
        answers=(
            " Fixed an issue where parcels arrived days after the promised date and tracking "
            "stopped updating.",
            " Added a dark mode, so the bright screen no longer hurts the eyes at night.",
            " Fixed an issue where cards were declined at checkout although they worked elsewhere.",
        ),
        max_tokens=60,
        template="**Fixed: {name}.** {pain}",
        phrasings=(
            " Fixed an issue where customers reported “{facet}”.",
            " Fixed: {name_lower}, including “{facet}” ({customers} customers reported it).",
            " Fixed an issue with {name_lower}: {facets}.",
        ),
    ),
    CopyKind.HELP_ARTICLE: KindSpec(
        label="help-centre article",
        title="Help centre",
        cue="Help article:",
        answers=(
            " Why do parcels arrive late? Some parcels arrive after the promised date, and "
            "tracking can stop updating. If tracking has not changed, contact support with "
            "your order number.",
            " Is there a dark mode? Many people find the white screen too bright at night. Dark "
            "mode is not available yet; lowering the screen brightness helps in the meantime.",
            " Why are cards declined at checkout? Some cards are declined at the last step "
            "although they work elsewhere. Check that the billing address matches the card, "
            "then try again.",
        ),
        max_tokens=110,
        template=(
            "**What customers report:** {pain}\n\n"
            "**What to do:** _Describe the fix or a workaround here._"
        ),
        phrasings=(
            " What about {name_lower}? Customers report {facets}. _Describe the fix or a "
            "workaround here._",
            " Why {facet}? {customers} customers have reported “{facet}”. _Describe the fix or "
            "a workaround here._",
        ),
    ),
    CopyKind.SUPPORT_REPLY: KindSpec(
        label="support reply template",
        title="Support replies",
        cue="Support reply:",
        answers=(
            " Hi, thank you for telling us about your late parcel and the tracking that stopped "
            "updating. We are sorry for the wait and have passed the details to our delivery "
            "team.",
            " Hi, thank you for asking about a dark mode. We understand the bright screen is "
            "hard on the eyes at night, and we have shared your request with the product team.",
            " Hi, sorry that your card is declined at checkout even though it works elsewhere. "
            "We have passed this to our payments team; in the meantime, please check that the "
            "billing address matches the card.",
        ),
        max_tokens=90,
        template=(
            "Hi, thank you for getting in touch about this. {pain}\n\n"
            "_Add the fix or a workaround here._"
        ),
        phrasings=(
            " Hi, thank you for telling us about {name_lower}. We are sorry that {facet_plain} "
            "and have passed the details to the team. _Add the fix or a workaround here._",
            " Hi, sorry about {name_lower}: other customers have reported “{facet}” too, and "
            "we have shared your message with the team. _Add the fix or a workaround here._",
        ),
    ),
    CopyKind.PRODUCT_PAGE: KindSpec(
        label="product-page description",
        title="Product page",
        cue="Product page:",
        answers=(
            " Follow every parcel from dispatch to your door, with an update at each step.",
            " Dark mode: a darker screen that is easy on the eyes at night.",
            " Pay with the card you already use, with a clear message if a payment does not go "
            "through.",
        ),
        max_tokens=70,
        template=(
            "_Describe how the product handles this now._ What customers asked about: {pain}"
        ),
        phrasings=(
            " {name}: _describe how the product handles this now._ Customers asked about {facets}.",
            " _Describe how {name_lower} works now._ What customers asked about: {facets}.",
        ),
    ),
    CopyKind.CHANGELOG: KindSpec(
        label="changelog line",
        title="Changelog",
        cue="Changelog:",
        answers=(
            " Fixed: late parcel deliveries and tracking that stopped updating.",
            " Added: dark mode for use at night.",
            " Fixed: cards declined at checkout.",
        ),
        max_tokens=32,
        template="Fixed: {name}.",
        as_list=True,
        phrasings=(
            " Fixed: {name_lower}.",
            " Fixed: {facet_plain}.",
            " Fixed: {name_lower} ({facet_plain}).",
        ),
    ),
}

SINGULAR_FIRST_PERSON = frozenset({"i", "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "myself"})
PROMISE = re.compile(
    r"\b(?:we|i)(?:'ll|\s+will|\s+shall|\s+promise|\s+guarantee)\b|\bguaranteed?\b"
    r"|\btomorrow\b|\bnext\s+(?:week|month|release|update|version)\b|\bwithin\s+\d",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


@dataclass(frozen=True)
class Section:
    """One theme's part of a draft, the prompt sent for it, and why the model's text was
    replaced by the template ("" when it was kept)."""

    markdown: str
    prompt: str
    problem: str


def copyable_themes() -> QuerySet[Theme]:
    """The themes copy can be drafted for: live ones, biggest first."""
    return Theme.objects.live().order_by("-size", "pk")


def new_copy_draft(
    kind: str, theme_ids: Sequence[int], user: AbstractBaseUser | AnonymousUser | None = None
) -> CopyDraft:
    """Return a new queued draft of kind for the themes (insights.jobs.start_copy_draft hands
    it to a worker)."""
    with transaction.atomic():
        draft = CopyDraft.objects.create(
            kind=kind,
            total=len(theme_ids),
            created_by=signed_in_person(user),
        )
        draft.themes.set(theme_ids)
    return draft


# What a claim clears: a draft taken again (its worker died, or the database went away and
# the task came back) is written again from nothing.
FRESH_DRAFT = {"done": 0, "text": "", "cited_item_ids": [], "prompt": ""}


def write_copy(draft_id: int, llm: TextGenerator, *, task_id: str = "") -> CopyDraft:
    """Write the draft, theme by theme; return it finished. A finished draft, or one another
    worker holds (feedlens.jobs.claim_job), is left as it is; one that was running (its
    worker died and the task came back) starts again from nothing."""
    draft = claim_job(CopyDraft, draft_id, task_id=task_id, reset=FRESH_DRAFT)
    if draft is None:
        return CopyDraft.objects.get(pk=draft_id)
    return carry_out(draft, partial(_write, draft, llm))


def _write(draft: CopyDraft, llm: TextGenerator) -> dict[str, Any]:
    """Write the draft's sections; return the fields it finishes with."""
    themes = list(draft.themes.order_by("-size", "pk"))
    if not themes:
        raise CopyError("the draft has no themes left to write about")
    spec = COPY_KINDS[draft.kind]
    draft.llm_model, draft.prompt_version = model_version(llm), PROMPT_VERSION
    draft.total = len(themes)
    draft.save(update_fields=["llm_model", "prompt_version", "total"])
    sections: list[Section] = []
    quotes: list[Quote] = []
    for done, theme in enumerate(themes, 1):
        material = theme_material(theme)
        sections.append(draft_section(material, spec, llm))
        quotes.extend(material.quotes)
        heartbeat(draft, done=done)
    return {
        "done": len(themes),
        "text": assemble_draft(spec, sections, quotes),
        "cited_item_ids": list(dict.fromkeys(item_id for item_id, _ in quotes)),
        "prompt": PROMPT_SEPARATOR.join(s.prompt for s in sections),
    }


def theme_material(theme: Theme) -> Material:
    """Return the theme's name, its pain points (its card's computed sentences and the
    model's checked sentence, if any), and up to QUOTES_PER_THEME quotes: those its card
    and summary cite, then its negative items nearest the centre, then its representative
    items and its other items nearest the centre."""
    n = QUOTES_PER_THEME
    quotes = theme_quotes(theme, n, preferred=cited_item_ids(theme), negative_only=True)
    if len(quotes) < n:  # few negative items: its representatives, then any item, will do
        others = theme_quotes(theme, n, preferred=theme.representative_item_ids)
        quotes = first_distinct([*quotes, *others], n)
    # An extractive summary is quotes already: only the card and a generated one add facts.
    card = tuple(str(sentence["text"]) for sentence in theme.card.get("sentences", []))
    written = (
        tuple(str(sentence["text"]) for sentence in theme.pain_summary)
        if theme.summary_kind == SummaryKind.GENERATED
        else ()
    )
    pain = card + written
    facets = tuple((str(f["phrase"]), int(f["customers"])) for f in theme.card.get("facets", []))
    return Material(theme.pk, theme.name, pain, tuple(quotes), facets)


def copy_prompt(material: Material, spec: KindSpec) -> FewShotPrompt:
    """The few-shot prompt for one theme's copy of one kind."""
    examples = tuple(
        (_query(example, spec), answer)
        for example, answer in zip(EXAMPLE_MATERIAL, spec.answers, strict=True)
    )
    return FewShotPrompt(
        instruction=COPY_INSTRUCTION.format(kind_label=spec.label),
        examples=examples,
        query=_query(material, spec),
    )


def _query(material: Material, spec: KindSpec) -> str:
    quotes = " | ".join(f'"{one_line(text, QUOTE_CHARS)}"' for _, text in material.quotes)
    return COPY_QUERY.format(
        theme_name=material.name,
        pain_points=" ".join(material.pain_points) or one_line(material.quotes[0][1], QUOTE_CHARS),
        quotes=quotes,
        cue=spec.cue,
    )


def draft_section(material: Material, spec: KindSpec, llm: TextGenerator) -> Section:
    """Return the theme's part of the draft: the phrasing a base model picks where the theme
    has a card (chosen_section), else the model's text if check_copy passes it, else the
    kind's template, with a note that says why."""
    if not material.quotes:
        raise CopyError(f"the theme “{material.name}” has no feedback to write from")
    if material.facets and spec.phrasings and isinstance(llm, PhraseScorer):  # noqa: SIM102
        if not llm.chat_template:  # a base model chooses; one that can write, writes
            return chosen_section(material, spec, llm)
    prompt = llm.render(copy_prompt(material, spec))
    completion = llm.complete(
        prompt, max_tokens=spec.max_tokens, stop=["\n", "Topic:"], timeout_s=COPY_TIMEOUT_S
    )
    text = complete_sentences(completion.text)
    problem = check_copy(text, material)
    if problem:
        body = spec.template.format(name=material.name, pain=_pain_text(material))
        note = f"> Template text: the model's draft was not used ({problem})."
        return Section(_layout(spec, material, body, note), prompt, problem)
    return Section(_layout(spec, material, text, ""), prompt, "")


def phrasings(material: Material, spec: KindSpec) -> list[str]:
    """The kind's phrasings filled from the material's card, one per facet for those that
    name a facet (the three with the most customers); each only once."""
    facets = material.facets[:3]
    listed = ", ".join(f"“{phrase}” ({count})" for phrase, count in facets)
    filled: list[str] = []
    for phrasing in spec.phrasings:
        for phrase, count in facets if "{facet" in phrasing else facets[:1]:
            text = phrasing.format(
                name=material.name,
                name_lower=_lower_first(material.name),
                facet=phrase,
                facet_plain=_lower_first(phrase),
                facets=listed,
                customers=count,
            )
            if text not in filled:
                filled.append(text)
    return filled


def _lower_first(text: str) -> str:
    """The text with a lower-case first letter, unless its first word is an acronym or a
    brand ("2FA", "iPhone")."""
    first = text.split(" ", 1)[0]
    if first[:1].isupper() and not any(c.isupper() for c in first[1:]):
        return text[:1].lower() + text[1:]
    return text


def chosen_section(material: Material, spec: KindSpec, llm: PhraseScorer) -> Section:
    """Return the phrasing (see phrasings) the model finds likeliest after the kind's
    few-shot prompt, with a note that says it was chosen, not written."""
    prompt = llm.render(copy_prompt(material, spec))
    candidates = phrasings(material, spec)
    scores = llm.continuation_logprobs(prompt, [text.strip() for text in candidates])
    best = max(range(len(candidates)), key=lambda i: (scores[i], -i))
    note = f"> Written from the theme's card; the model chose this wording among {len(candidates)}."
    record = (
        prompt
        + "\n\n"
        + "\n".join(
            f"{i + 1}. {score:.3f} {text.strip()}" + ("  <- chosen" if i == best else "")
            for i, (text, score) in enumerate(zip(candidates, scores, strict=True))
        )
    )
    return Section(_layout(spec, material, candidates[best].strip(), note), record, "")


def complete_sentences(text: str) -> str:
    """The text up to its last complete sentence (all of it when none is complete): output
    that ran out of tokens ends mid-sentence."""
    text = " ".join(text.split())
    ends = [match.end() for match in SENTENCE_END.finditer(text)]
    return text[: ends[-1]] if ends else text


def check_copy(text: str, material: Material) -> str:
    """Return why the drafted copy cannot be used, or "" when it can."""
    words = words_of(text)
    if len(words) < MIN_WORDS:
        return "it is empty or too short"
    if not SENTENCE_END.search(text):
        return "it was cut off mid-sentence"
    if is_repetitive(words, ngram=LOOP_NGRAM):
        return "it repeats itself"
    if SINGULAR_FIRST_PERSON & set(words):
        return "it is written as a customer, in the first person"
    promise = PROMISE.search(text)
    if promise:
        return f"it makes a promise (“{promise.group(0)}”)"
    invented = unsupported_details(text, material.known_text())
    if invented:
        return f"it mentions {', '.join(invented)}, which the feedback does not"
    known_stems = {stem(word) for word in content_words(material.known_text())}
    borrowed = [word for word in EXAMPLE_TOPIC_WORDS if stem(word) in _stems(text) - known_stems]
    if borrowed:
        return f"it copies an example ({', '.join(borrowed)})"
    if not _stems(text) & known_stems:
        return "it is not about the theme"
    return ""


def _stems(text: str) -> set[str]:
    return {stem(word) for word in content_words(text)}


def _pain_text(material: Material) -> str:
    if material.pain_points:
        return " ".join(material.pain_points)
    return f"Customers wrote: “{one_line(material.quotes[0][1], QUOTE_CHARS)}”"


def _layout(spec: KindSpec, material: Material, body: str, note: str) -> str:
    # The body and the name may hold a customer's words; the note is ours (a blockquote).
    body, name = literal(body), literal(material.name)
    if spec.as_list:
        return "\n".join(filter(None, [f"- {body}", f"  {note}" if note else ""]))
    return "\n\n".join(filter(None, [f"## {name}", body, note]))


_ENTITY = re.compile(r"&(?=#?\w+;)")


def literal(text: str) -> str:
    """Return text (which may hold a customer's words) for a Markdown draft, to be shown as
    written wherever the draft is pasted: its tags and entities escaped, so no customer's
    HTML is rendered, and its square brackets, so no quote becomes a link or an image."""
    text = _ENTITY.sub("&amp;", text.replace("\\", "\\\\"))  # a backslash escapes nothing
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("[", "\\[").replace("]", "\\]")


def assemble_draft(spec: KindSpec, sections: Sequence[Section], quotes: Sequence[Quote]) -> str:
    """The whole draft in Markdown: a title, each theme's section, and the feedback it
    rests on, each item linked to its page."""
    joiner = "\n" if spec.as_list else "\n\n"
    parts = [f"# {spec.title}", joiner.join(s.markdown for s in sections), citations(quotes)]
    return "\n\n".join(parts) + "\n"


def citations(quotes: Sequence[Quote]) -> str:
    """The "Based on feedback" section: one linked line per distinct item."""
    lines = ["## Based on feedback", ""]
    seen: set[int] = set()
    for item_id, text in quotes:
        if item_id in seen:
            continue
        seen.add(item_id)
        url = reverse("insights:item_detail", args=[item_id])
        lines.append(f"- [Item {item_id}]({url}): “{literal(one_line(text, CITED_QUOTE_CHARS))}”")
    return "\n".join(lines)
