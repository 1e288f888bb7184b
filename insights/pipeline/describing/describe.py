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

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from django.db.models import Max
from django.utils import timezone

from ingestion.models import DataSource, FeedbackItem
from ingestion.ratings import RatingScale, format_rating
from insights.local_models import model_version
from insights.models import (
    Correction,
    CorrectionKind,
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
from insights.pipeline.describing.cards import (
    CARD_VERSION,
    CardItem,
    FieldBaseline,
    build_card,
    segment_values,
)
from insights.pipeline.describing.naming import (
    NAME_PROMPT_VERSION,
    Neighbourhood,
    ThemeText,
    name_theme,
    spread,
)
from insights.pipeline.describing.quotes import Quote, theme_quotes
from insights.pipeline.describing.summaries import (
    EXTRACTIVE_QUOTES,
    SUMMARY_PROMPT_VERSION,
    PainSummary,
    extractive_summary,
    summarise_pain_points,
)
from insights.pipeline.embedding import Point, point_vectors
from insights.pipeline.themes.keywords import (
    KEYWORD_TEXTS_PER_THEME,
    Phrase,
    theme_keywords,
    theme_phrases,
)
from insights.wording import speaks_to_the_model, stems_of
from llm.interfaces import DescribingModel, TextEmbedder

# A theme is described again once its size has changed by more than this share.
REDESCRIBE_CHANGE = 0.2
REPRESENTATIVE_ITEMS = 5
# Phrases kept per theme: name candidates, facets, and the test of whether a name still fits.
PHRASES_PER_THEME = 40


@dataclass(frozen=True)
class Corpus:
    """What describing one theme needs to know about all of them, read once per run."""

    texts: dict[int, list[str]]  # theme id: texts nearest its centre first
    keywords: dict[int, list[str]]
    phrases: dict[int, list[Phrase]]
    baseline: FieldBaseline
    as_of: date | None  # the latest date an item was written
    # The live themes' items by the describing embedder, keyed by theme id.
    neighbourhood: Neighbourhood | None


def describe_themes(
    theme_ids: Iterable[int],
    llm: DescribingModel,
    embedder: TextEmbedder,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Give each theme that is due (see is_due; all of them if force) keywords,
    representative items, a name and a pain-point card; return how many were described.
    A name a person gave is never replaced. on_progress(done, total) follows each theme."""
    version = model_version(llm)
    themes = [
        theme
        for theme in Theme.objects.filter(pk__in=list(theme_ids))
        if force or is_due(theme, version)
    ]
    if not themes:
        return 0
    done = 0
    # Each project's themes are described against each other: another product's themes
    # neither make a word common nor take a name.
    described = Theme.objects.filter(pk__in=[theme.pk for theme in themes])
    for project_id in sorted(set(described.values_list("project_id", flat=True))):
        corpora = _corpora(embedder.name, themes, project_id)
        in_project = Theme.objects.filter(project_id=project_id)
        live_names = in_project.exclude(status=ThemeStatus.RETIRED).values_list("id", "name")
        taken = dict(live_names)
        for theme in (theme for theme in themes if theme.project_id == project_id):
            others = [name for theme_id, name in taken.items() if theme_id != theme.pk]
            corpus = corpora.get(theme.pk)
            _describe(theme, corpus, others, (llm, version), embedder)
            theme.save(update_fields=DESCRIBED_FIELDS)
            taken[theme.pk] = theme.name
            done += 1
            if on_progress:
                on_progress(done, len(themes))
    return len(themes)


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


@dataclass(frozen=True)
class _Corpora:
    """What themes are described against: the most specific themes side by side, and each
    broad theme (one with sub-themes) among the themes of its level: the others as deep in
    the hierarchy, and the most specific themes above them. A broad theme holds its
    sub-themes' items: beside them its words would be nobody's own, and a name that finds a
    sub-theme's items would seem to miss."""

    specific: Corpus
    depth_of_broad: dict[int, int]  # how deep each broad theme sits (0: the top)
    by_depth: dict[int, Corpus]  # the themes of each level a broad theme being described is at

    def get(self, theme_id: int) -> Corpus:
        depth = self.depth_of_broad.get(theme_id)
        return self.specific if depth is None else self.by_depth[depth]


def _corpora(embedding_model: str, themes: list[Theme], project_id: int) -> _Corpora:
    """Read the project's themes' texts and its items' fields once, for every level."""
    in_project = Theme.objects.filter(project_id=project_id)
    hierarchy = in_project.hierarchy()
    broad = set(in_project.parents().values_list("pk", flat=True))
    depth_of_broad = {pk: hierarchy.depth(pk) for pk in broad}
    texts, baseline = _texts_by_theme(project_id), _field_baseline(project_id)
    scope = (embedding_model, project_id)
    specific = _corpus(texts, baseline, scope, leave_out=broad)
    by_depth = {}
    for depth in sorted({depth_of_broad[theme.pk] for theme in themes if theme.pk in broad}):
        # The level: its themes, and the most specific themes nearer the top.
        level = {
            pk
            for pk in texts
            if hierarchy.depth(pk) == depth or (hierarchy.depth(pk) < depth and pk not in broad)
        }
        by_depth[depth] = _corpus(texts, baseline, scope, leave_out=set(texts) - level)
    return _Corpora(specific, depth_of_broad, by_depth)


def _corpus(
    texts_by_theme: dict[int, list[str]],
    baseline: FieldBaseline,
    scope: tuple[str, int],
    leave_out: Collection[int],
) -> Corpus:
    """What describing needs of every theme in texts_by_theme but those left out; the
    neighbourhood only of the project's themes embedded by the scope's embedding model (the
    model that embeds the name candidates). scope: (embedding model, project id)."""
    texts = {key: found for key, found in texts_by_theme.items() if key not in leave_out}
    return Corpus(
        texts=texts,
        keywords=theme_keywords(texts),
        phrases=theme_phrases(texts, top_n=PHRASES_PER_THEME),
        baseline=baseline,
        as_of=_latest_day(),
        neighbourhood=_neighbourhood(scope, leave_out),
    )


def _field_baseline(project_id: int) -> FieldBaseline:
    """How the project's items' sources, kinds, ratings and metadata are spread: what a
    card's over-represented fields are measured against."""
    scales = source_scales()
    items = FeedbackItem.objects.filter(source__project_id=project_id)
    return FieldBaseline.of(
        _segments(scales, *row)
        for row in items.values_list("source__name", "kind", "rating", "metadata").iterator(
            chunk_size=2000
        )
    )


# Item ids a query: inside SQLite's limit on query parameters (32,766 since 3.32) and
# PostgreSQL's.
ID_BATCH_SIZE = 5000


def source_scales() -> dict[str, RatingScale | None]:
    """Each source's rating scale, by name (a deployment has tens of sources)."""
    return {source.name: source.scale_of_ratings for source in DataSource.objects.all()}


def _segments(
    scales: dict[str, RatingScale | None],
    source: str,
    kind: str,
    rating: float | None,
    metadata: dict[str, Any],
) -> dict[str, str]:
    written = "" if rating is None else format_rating(rating, scales[source])
    return segment_values(source, kind, written, metadata)


def _neighbourhood(scope: tuple[str, int], leave_out: Collection[int] = ()) -> Neighbourhood | None:
    """A sample of the items of every live theme of the project embedded by the embedding
    model (scope: the model and the project's id), with their
    vectors by that model (a long item's, that of the unit that put it in the theme; see
    Neighbourhood.of; the sample is taken before the vectors are read, so at most
    NEIGHBOURHOOD_ITEMS_PER_THEME a theme are)."""
    embedding_model, project_id = scope
    members: dict[int, list[Point]] = {}
    live = Theme.objects.live(embedding_model).filter(project_id=project_id)
    rows = (
        ThemeAssignment.objects.filter(theme__in=live)
        .exclude(theme_id__in=list(leave_out))
        .order_by("theme_id", "-similarity", "item_id")
        .values_list("theme_id", "item_id", "unit_start")
    )
    for theme_id, item_id, unit_start in rows.iterator(chunk_size=2000):
        members.setdefault(theme_id, []).append((item_id, unit_start))
    sampled = {theme_id: spread(points) for theme_id, points in members.items()}
    points = [point for found in sampled.values() for point in found]
    vectors: dict[Point, np.ndarray] = {}
    for start in range(0, len(points), ID_BATCH_SIZE):
        vectors |= point_vectors(points[start : start + ID_BATCH_SIZE], embedding_model)
    return Neighbourhood.of(
        {
            theme_id: np.array([vectors[p] for p in found if p in vectors])
            for theme_id, found in sampled.items()
            if any(p in vectors for p in found)
        }
    )


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
        texts = corpus.texts.get(theme.pk, [])
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
            _segments(scales, source, kind, rating, metadata),
        )
        for pk, text, start, end, author, created, source, kind, rating, metadata in (
            rows.iterator(chunk_size=2000)
        )
    ]


def _latest_day() -> date | None:
    latest = FeedbackItem.objects.aggregate(latest=Max("created_at"))["latest"]
    return timezone.localdate(latest) if latest else None


def _texts_by_theme(project_id: int) -> dict[int, list[str]]:
    """Up to KEYWORD_TEXTS_PER_THEME texts of every theme of the project that has items (of
    a long item, the part in the theme), nearest first, leaving out any that speak to a
    language model."""
    in_project = ThemeAssignment.objects.filter(theme__project_id=project_id)
    rows = in_project.order_by("theme_id", "-similarity").values_list(
        "theme_id", "item__text", "unit_start", "unit_end"
    )
    texts: dict[int, list[str]] = {}
    for theme_id, text, start, end in rows.iterator(chunk_size=2000):
        bucket = texts.setdefault(theme_id, [])
        if len(bucket) < KEYWORD_TEXTS_PER_THEME and not speaks_to_the_model(text):
            bucket.append(quoted_part(text, start, end))
    return texts
