"""Describing themes: keywords, a short name and a pain-point summary for each.

Keywords come from class-based TF-IDF over every theme's texts (BERTopic's c-TF-IDF). The
name and the summary come from the local language model, by few-shot completion, and are
checked before they are stored: a name must be short, new and on topic; every summary
sentence must cite the quotes it rests on and be supported by them. What fails a check is
replaced by something made from the data itself (keywords, the quotes), and says so.
Each theme records the model, the prompt versions and the prompts it was described with, and
is described again when any of them is no longer the current one.
"""

from collections.abc import Callable, Iterable

from django.utils import timezone

from insights.local_models import model_version
from insights.models import (
    ModelVersion,
    NameSource,
    SummaryKind,
    Theme,
    ThemeAssignment,
    ThemeStatus,
)
from insights.pipeline.describing.naming import NAME_PROMPT_VERSION, name_theme
from insights.pipeline.describing.quotes import theme_quotes
from insights.pipeline.describing.summaries import (
    SUMMARY_PROMPT_VERSION,
    SUMMARY_QUOTES,
    summarise_pain_points,
)
from insights.pipeline.themes.keywords import KEYWORD_TEXTS_PER_THEME, theme_keywords
from llm.interfaces import TextEmbedder, TextGenerator

# A theme is described again once its size has changed by more than this share.
REDESCRIBE_CHANGE = 0.2
REPRESENTATIVE_ITEMS = 5


def describe_themes(
    theme_ids: Iterable[int],
    llm: TextGenerator,
    embedder: TextEmbedder,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Give each theme that is due (see is_due; all of them if force) keywords,
    representative items, a name and a pain-point summary; return how many were described.
    A name a person gave is never replaced. on_progress(done, total) follows each theme."""
    version = model_version(llm)
    themes = [
        theme
        for theme in Theme.objects.filter(pk__in=list(theme_ids))
        if force or is_due(theme, version)
    ]
    if not themes:
        return 0
    keywords = theme_keywords(_texts_by_theme())
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
    REDESCRIBE_CHANGE since it was, or was described with another model or prompt version
    than model and the current ones (its name only if the model named it)."""
    if theme.described_at is None:
        return True
    if abs(theme.size - theme.described_size) > REDESCRIBE_CHANGE * theme.described_size:
        return True
    return _name_is_stale(theme, model) or _summary_is_stale(theme, model)


def _name_is_stale(theme: Theme, model: ModelVersion) -> bool:
    if theme.name_source == NameSource.PERSON:
        return False  # a person's name stays whatever the model or prompt
    return theme.name_model_id != model.pk or theme.name_prompt_version != NAME_PROMPT_VERSION


def _summary_is_stale(theme: Theme, model: ModelVersion) -> bool:
    if theme.summary_prompt_version != SUMMARY_PROMPT_VERSION:
        return True
    # A theme without negative feedback was summarised by no model.
    return theme.summary_kind != SummaryKind.NONE and theme.summary_model_id != model.pk


def _describe(
    theme: Theme,
    keywords: list[str],
    taken: list[str],
    model: tuple[TextGenerator, ModelVersion],
    embedder: TextEmbedder,
) -> None:
    """Set the theme's description fields (without saving). The model fields name the model
    that was asked, whether its answer was kept or replaced."""
    llm, version = model
    representatives = theme_quotes(theme, REPRESENTATIVE_ITEMS)
    theme.keywords = keywords
    theme.representative_item_ids = [item_id for item_id, _ in representatives]
    if theme.name_source != NameSource.PERSON:
        named = name_theme(keywords, representatives, llm, embedder, taken=taken)
        theme.name, theme.name_source, theme.name_prompt = named
        theme.name_model, theme.name_prompt_version = version, NAME_PROMPT_VERSION
    quotes = theme_quotes(theme, SUMMARY_QUOTES, negative_only=True)
    summary = summarise_pain_points(quotes, theme.name, llm, embedder)
    theme.pain_summary = summary.sentences
    theme.summary_kind = summary.kind
    theme.summary_note = summary.note
    theme.summary_model = version if summary.kind != SummaryKind.NONE else None
    theme.summary_prompt_version = SUMMARY_PROMPT_VERSION
    theme.summary_prompt = summary.prompt
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
