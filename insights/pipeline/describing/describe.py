"""Describing themes: keywords, a short name and a pain-point summary for each.

Keywords come from class-based TF-IDF over every theme's texts (BERTopic's c-TF-IDF). The
name and the summary come from the local language model, by few-shot completion, and are
checked before they are stored: a name must be short, new and on topic; every summary
sentence must cite the quotes it rests on and be supported by them. What fails a check is
replaced by something made from the data itself (keywords, the quotes), and says so.
"""

from collections.abc import Callable, Iterable

from django.utils import timezone

from ingestion.models import FeedbackItem
from insights.local_models import configured_embedder, configured_llm, model_version
from insights.models import (
    ModelVersion,
    NameSource,
    Sentiment,
    SummaryKind,
    Theme,
    ThemeAssignment,
    ThemeStatus,
    sentiment_label_is,
)
from insights.pipeline.describing.naming import name_theme
from insights.pipeline.describing.summaries import SUMMARY_QUOTES, summarise_pain_points
from insights.pipeline.embedding import item_vectors
from insights.pipeline.themes.keywords import KEYWORD_TEXTS_PER_THEME, theme_keywords
from insights.wording import Quote, first_distinct
from llm.embeddings import Embedder
from llm.generation import LocalLLM

# Recorded on each theme with the model: names and summaries change when the prompts do.
DESCRIBE_PROMPT_VERSION = "describe-1"


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
        assignments = assignments.filter(sentiment_label_is(Sentiment.NEGATIVE, "item__sentiment"))
    stored = dict(assignments.values_list("item_id", "similarity"))
    texts = dict(assignments.values_list("item_id", "item__text"))
    items = FeedbackItem.objects.filter(theme_assignment__in=assignments)
    ids, vectors = item_vectors(items, theme.embedding_model)
    if len(ids) and len(theme.centroid):
        stored.update(zip(ids, (vectors @ theme.centroid_array()).tolist(), strict=True))
    ranked = sorted(stored, key=lambda item_id: (-stored[item_id], item_id))
    return first_distinct([(item_id, texts[item_id]) for item_id in ranked], n)


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
