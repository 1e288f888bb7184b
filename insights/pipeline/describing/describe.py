"""Describing themes: keywords, a name and a pain-point card for each.

Keywords and candidate phrases come from class-based TF-IDF over every theme's texts
(BERTopic's c-TF-IDF). The language model chooses the name among the theme's own phrases
(naming.py); the pain-point card is computed (cards.py). Only a model with a chat template
(an instruction-tuned one) also writes a sentence, shown when it passes the grounding checks
and marked as the model's. A name stays while it is still one of its theme's distinctive
phrases; when the machine renames a theme, the theme's history says why.
Each theme records the model, the prompt versions and the prompts it was described with, and
is described again when any of them is no longer the current one.
"""

from collections.abc import Callable, Iterable, Sequence

from django.utils import timezone

from feedlens.jobs import OPEN
from insights.local_models import model_version
from insights.models import (
    AnalysisRun,
    Correction,
    CorrectionKind,
    DescribingCorpus,
    ModelVersion,
    NameSource,
    Sentiment,
    SummaryKind,
    Theme,
    ThemeAssignment,
    ThemeStatus,
    quoted_part,
    theme_sentiment_label_is,
)
from insights.pipeline.describing.cards import CARD_VERSION, CardItem, build_card
from insights.pipeline.describing.corpus import (
    Corpus,
    corpus_describing,
    item_segments,
    load_corpus,
    source_scales,
    store_corpora,
    theme_texts,
)
from insights.pipeline.describing.naming import (
    NAME_PROMPT_VERSION,
    ThemeText,
    name_theme,
    same_name,
)
from insights.pipeline.describing.quotes import Quote, theme_quotes
from insights.pipeline.describing.summaries import (
    EXTRACTIVE_QUOTES,
    SUMMARY_PROMPT_VERSION,
    PainSummary,
    extractive_summary,
    summarise_pain_points,
)
from insights.pipeline.themes.keywords import Phrase
from insights.wording import stems_of
from llm.interfaces import DescribingModel, TextEmbedder

# A theme is described again once its size has changed by more than this share.
REDESCRIBE_CHANGE = 0.2
REPRESENTATIVE_ITEMS = 5


def describe_themes(
    theme_ids: Iterable[int],
    llm: DescribingModel,
    embedder: TextEmbedder,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Give each theme that is due (see is_due; all of them if force) keywords,
    representative items, a name and a pain-point card; return how many were described.
    A name a person gave is never replaced. on_progress(done, total) follows each theme.
    This is what an analysis run's describing stage does over many workers, in this
    process: plan_describing, describe_theme for each theme, then settle_names."""
    corpora = plan_describing(theme_ids, llm, embedder, force=force)
    due = [theme_id for stored in corpora for theme_id in stored.described]
    try:
        for done, theme_id in enumerate(due, start=1):
            describe_theme(theme_id, corpora, llm, embedder)
            if on_progress:
                on_progress(done, len(due))
        settle_names(corpora, llm, embedder)
    finally:
        DescribingCorpus.objects.filter(pk__in=[stored.pk for stored in corpora]).delete()
    return len(due)


def plan_describing(
    theme_ids: Iterable[int],
    llm: DescribingModel,
    embedder: TextEmbedder,
    force: bool = False,
    run: AnalysisRun | None = None,
) -> list[DescribingCorpus]:
    """Store the corpora that the due ones of theme_ids (all of them if force) are
    described with, largest theme first; return them (each lists its themes). Corpora
    left by this run before, and by runs no longer open, are dropped."""
    version = model_version(llm)
    if run is not None:
        stale = DescribingCorpus.objects.filter(run__isnull=False).exclude(run__status__in=OPEN)
        stale.delete()
        DescribingCorpus.objects.filter(run=run).delete()
    themes = [
        theme
        for theme in Theme.objects.filter(pk__in=list(theme_ids))
        if force or is_due(theme, version)
    ]
    return store_corpora(themes, embedder.name, run)


def describe_theme(
    theme_id: int,
    corpora: Sequence[DescribingCorpus],
    llm: DescribingModel,
    embedder: TextEmbedder,
) -> bool:
    """Describe one theme planned with corpora (plan_describing), its name none that
    another live theme of its project had when describing began; return whether it was
    (not when it was described since, as when a chunk is done again, or is gone). Two
    themes described at once may choose the same new name: settle_names parts them."""
    stored = corpus_describing(theme_id, corpora)
    theme = Theme.objects.filter(pk=theme_id).first()
    if theme is None or (theme.described_at and theme.described_at >= stored.created_at):
        return False
    corpus = load_corpus(stored)
    taken = [name for pk, name in corpus.names.items() if pk != theme_id]
    _describe(theme, corpus, taken, (llm, model_version(llm)), embedder)
    theme.save(update_fields=DESCRIBED_FIELDS)
    return True


def settle_names(
    corpora: Sequence[DescribingCorpus], llm: DescribingModel, embedder: TextEmbedder
) -> int:
    """Once every theme planned with corpora is described: where live themes of a project
    now share a name (the same word stems), the theme that had it before describing began,
    a person's, or else the largest keeps it, and each other one described here is named
    again with every other theme's name taken; return how many were."""
    renamed = 0
    model = (llm, model_version(llm))
    for project_id in sorted({stored.project_id for stored in corpora}):
        described = {
            theme_id: stored
            for stored in corpora
            if stored.project_id == project_id
            for theme_id in stored.described
        }
        live = Theme.objects.filter(project_id=project_id).exclude(status=ThemeStatus.RETIRED)
        themes = list(live)
        for sharing in _sharing_names(themes):
            keeper = max(sharing, key=lambda theme: _keeps_shared_name(theme, described))
            for theme in sharing:
                if theme is keeper or theme.pk not in described:
                    continue
                if theme.name_source == NameSource.PERSON:
                    continue
                taken = [other.name for other in themes if other.pk != theme.pk]
                _name_again(theme, described[theme.pk], taken, model, embedder)
                renamed += 1
    return renamed


def _sharing_names(themes: list[Theme]) -> list[list[Theme]]:
    """The groups of themes whose names say the same (naming.same_name)."""
    by_name: dict[tuple[str, ...], list[Theme]] = {}
    for theme in themes:
        key = same_name(theme.name)
        if key:
            by_name.setdefault(key, []).append(theme)
    return [group for group in by_name.values() if len(group) > 1]


def _keeps_shared_name(
    theme: Theme, described: dict[int, DescribingCorpus]
) -> tuple[bool, bool, int, int]:
    corpus_names = load_corpus(described[theme.pk]).names if theme.pk in described else {}
    had_it = theme.pk not in described or corpus_names.get(theme.pk) == theme.name
    return had_it, theme.name_source == NameSource.PERSON, theme.size, -theme.pk


def _name_again(
    theme: Theme,
    stored: DescribingCorpus,
    taken: list[str],
    model: tuple[DescribingModel, ModelVersion],
    embedder: TextEmbedder,
) -> None:
    """Describe the theme again with taken names (its card quotes its name); its history
    keeps one rename, from the name it had before describing began."""
    corpus = load_corpus(stored)
    machine_renames = Correction.objects.filter(
        kind=CorrectionKind.RENAME, theme=theme, made_by=None, made_at__gte=stored.created_at
    )
    machine_renames.delete()
    theme.name = corpus.names.get(theme.pk, "")
    _describe(theme, corpus, taken, model, embedder)
    theme.save(update_fields=DESCRIBED_FIELDS)


DESCRIBED_FIELDS = [
    "name",
    "name_source",
    "keywords",
    "representative_item_ids",
    "card",
    "pain_summary",
    "summary_kind",
    "summary_note",
    "name_model",
    "name_prompt_version",
    "name_prompt",
    "summary_model",
    "summary_prompt_version",
    "summary_prompt",
    "described_size",
    "described_at",
    "updated_at",
]


def is_due(theme: Theme, model: ModelVersion) -> bool:
    """Whether the theme was never described, has changed size by more than
    REDESCRIBE_CHANGE since it was, or was described with another model, prompt or card
    version than model and the current ones (its name only if the model chose it)."""
    if theme.described_at is None:
        return True
    if abs(theme.size - theme.described_size) > REDESCRIBE_CHANGE * theme.described_size:
        return True
    if theme.card.get("version") != CARD_VERSION:
        return True
    return _name_is_stale(theme, model) or _summary_is_stale(theme, model)


def _name_is_stale(theme: Theme, model: ModelVersion) -> bool:
    if theme.name_source == NameSource.PERSON:
        return False  # a person's name stays whatever the model or prompt
    return theme.name_model_id != model.pk or theme.name_prompt_version != NAME_PROMPT_VERSION


def _summary_is_stale(theme: Theme, model: ModelVersion) -> bool:
    if theme.summary_prompt_version != SUMMARY_PROMPT_VERSION:
        return True
    # Only a model that wrote (or was asked to write) a sentence made the summary.
    return theme.summary_kind == SummaryKind.GENERATED and theme.summary_model_id != model.pk


def _describe(
    theme: Theme,
    corpus: Corpus,
    taken: list[str],
    model: tuple[DescribingModel, ModelVersion],
    embedder: TextEmbedder,
) -> None:
    """Set the theme's description fields (without saving). The model fields name the model
    that was asked, whether its answer was kept or replaced."""
    llm, version = model
    phrases = corpus.phrases.get(theme.pk, [])
    keywords = corpus.keywords.get(theme.pk, [])
    representatives = theme_quotes(theme, REPRESENTATIVE_ITEMS)
    theme.keywords = keywords
    theme.representative_item_ids = [item_id for item_id, _ in representatives]
    if theme.name_source != NameSource.PERSON and not keeps_name(theme, phrases, taken, version):
        texts = theme_texts(theme.pk)
        text = ThemeText(phrases, keywords, representatives, texts, theme.pk, corpus.neighbourhood)
        named = name_theme(text, (llm, embedder), taken)
        _record_rename(theme, named.name, _rename_reason(theme, version))
        theme.name, theme.name_source, theme.name_prompt = named
        theme.name_model, theme.name_prompt_version = version, NAME_PROMPT_VERSION
    theme.card = build_card(_card_items(theme), phrases, theme.name, corpus.baseline, corpus.as_of)
    summary = _written_summary(theme, llm, embedder)
    theme.pain_summary = summary.sentences
    theme.summary_kind = summary.kind
    theme.summary_note = summary.note
    theme.summary_model = version if summary.kind == SummaryKind.GENERATED else None
    theme.summary_prompt_version = SUMMARY_PROMPT_VERSION
    theme.summary_prompt = summary.prompt
    theme.described_size = theme.size
    theme.described_at = timezone.now()


def keeps_name(theme: Theme, phrases: list[Phrase], taken: list[str], model: ModelVersion) -> bool:
    """Whether the theme's chosen name still stands: chosen by this model and prompt
    version, still one of the theme's distinctive phrases, and no other theme's name."""
    if theme.name_source != NameSource.CHOSEN or _name_is_stale(theme, model):
        return False
    if theme.name.casefold() in {other.casefold() for other in taken}:
        return False
    return any(stems_of(phrase.text) == stems_of(theme.name) for phrase in phrases)


def _rename_reason(theme: Theme, model: ModelVersion) -> str:
    if theme.name_prompt_version != NAME_PROMPT_VERSION or theme.name_model_id != model.pk:
        return f"named again with the model {model} and prompt {NAME_PROMPT_VERSION}"
    return "the old name is no longer among the theme's distinctive phrases"


def _record_rename(theme: Theme, new_name: str, reason: str) -> None:
    """Keep a machine rename of a described theme in its history (with made_by empty)."""
    if theme.described_at is None or not theme.name or theme.name == new_name:
        return
    Correction.objects.create(
        kind=CorrectionKind.RENAME, theme=theme, before=theme.name, after=new_name, reason=reason
    )


def _written_summary(theme: Theme, llm: DescribingModel, embedder: TextEmbedder) -> PainSummary:
    """The pain-point text beside the card: the theme's top negative quotes where the card
    has no facet (said so); a sentence the model wrote from the facets' quotes where the
    model has a chat template and the sentence passes the checks; otherwise none."""
    card = theme.card
    if not card["customers"]:
        return PainSummary(sentences=[], kind=SummaryKind.NONE, note="No negative feedback.")
    if not card["facets"]:
        quotes = theme_quotes(theme, EXTRACTIVE_QUOTES, negative_only=True)
        return extractive_summary(quotes, card["fallback"])
    if not llm.chat_template:
        return PainSummary(sentences=[], kind=SummaryKind.NONE)
    summary = summarise_pain_points(_facet_quotes(theme), theme.name, llm, embedder)
    if summary.kind != SummaryKind.GENERATED:  # the card stands without it
        return PainSummary([], SummaryKind.NONE, summary.note, prompt=summary.prompt)
    return summary


def _facet_quotes(theme: Theme) -> list[Quote]:
    cited = [pk for facet in theme.card["facets"] for pk in facet["item_ids"]]
    rows = theme.assignments.filter(item_id__in=cited).values_list(
        "item_id", "item__text", "unit_start", "unit_end"
    )
    texts = {pk: quoted_part(text, start, end) for pk, text, start, end in rows}
    return [Quote(pk, texts[pk]) for pk in dict.fromkeys(cited) if pk in texts]


def _card_items(theme: Theme) -> list[CardItem]:
    """The theme's items negative toward it, nearest its centre first, as a card counts
    them."""
    rows = (
        ThemeAssignment.objects.filter(theme=theme)
        .filter(theme_sentiment_label_is(Sentiment.NEGATIVE, "", "item__sentiment"))
        .order_by("-similarity", "item_id")
        .values_list(
            "item_id",
            "item__text",
            "unit_start",
            "unit_end",
            "item__author_handle",
            "item__created_at",
            "item__source__name",
            "item__kind",
            "item__rating",
            "item__metadata",
        )
    )
    scales = source_scales()
    return [
        CardItem(
            pk,
            quoted_part(text, start, end),
            author,
            created,
            item_segments(scales, source, kind, rating, metadata),
        )
        for pk, text, start, end, author, created, source, kind, rating, metadata in (
            rows.iterator(chunk_size=2000)
        )
    ]
