"""What describing a theme needs to know about all the others, computed once and stored.

Describing is fanned out, one task per theme on any worker (insights.pipeline.run), but
each theme is told apart from every theme of its level: its keywords and phrases come from
class-based TF-IDF over all of their texts, its card's concentrations from how the whole
project's fields spread, and its name is tried against a sample of every theme's items.
Those are computed once for a describing stage (store_corpora), kept in a DescribingCorpus
row per project and level, and read by each task (load_corpus, once per process).
"""

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
from django.db.models import Max
from django.utils import timezone

from ingestion.models import DataSource, FeedbackItem
from ingestion.ratings import RatingScale, format_rating
from insights.models import (
    AnalysisRun,
    DescribingCorpus,
    Theme,
    ThemeAssignment,
    ThemeStatus,
    quoted_part,
)
from insights.pipeline.describing.cards import FieldBaseline, segment_values
from insights.pipeline.describing.naming import Neighbourhood, spread
from insights.pipeline.embedding import Point, point_vectors
from insights.pipeline.themes.keywords import (
    KEYWORD_TEXTS_PER_THEME,
    Phrase,
    theme_keywords,
    theme_phrases,
)
from insights.wording import speaks_to_the_model

# Phrases kept per theme: name candidates, facets, and the test of whether a name still fits.
PHRASES_PER_THEME = 40
# Item ids a query: inside SQLite's limit on query parameters (32,766 since 3.32) and
# PostgreSQL's.
ID_BATCH_SIZE = 5000


@dataclass(frozen=True)
class Corpus:
    """A stored corpus as describing reads it."""

    keywords: dict[int, list[str]]  # of each theme described with it
    phrases: dict[int, list[Phrase]]  # of each theme described with it
    baseline: FieldBaseline
    as_of: date | None  # the latest date an item was written
    # The live themes' items by the describing embedder, keyed by theme id.
    neighbourhood: Neighbourhood | None
    names: dict[int, str]  # every live theme's name in the project when describing began


def store_corpora(
    themes: Sequence[Theme], embedding_model: str, run: AnalysisRun | None = None
) -> list[DescribingCorpus]:
    """Store what describing themes needs, per project: one corpus for its most specific
    themes and one for each level of broad themes (themes with sub-themes) among them;
    return them, each listing the themes (in the order given) it describes. run: the
    analysis run they belong to (dropped with it), if any."""
    stored: list[DescribingCorpus] = []
    for project_id in sorted({theme.project_id for theme in themes if theme.project_id}):
        in_project = [theme for theme in themes if theme.project_id == project_id]
        stored += _store_project_corpora(in_project, embedding_model, project_id, run)
    return stored


def _store_project_corpora(
    themes: list[Theme], embedding_model: str, project_id: int, run: AnalysisRun | None
) -> list[DescribingCorpus]:
    """Each project's themes are described against each other: another product's themes
    neither make a word common nor take a name. The most specific themes are described
    side by side, and each broad theme among the themes of its level: the others as deep
    in the hierarchy, and the most specific themes above them. A broad theme holds its
    sub-themes' items: beside them its words would be nobody's own, and a name that finds
    a sub-theme's items would seem to miss."""
    in_project = Theme.objects.filter(project_id=project_id)
    hierarchy = in_project.hierarchy()
    broad = set(in_project.parents().values_list("pk", flat=True))
    texts = texts_by_theme(project_id)
    live_names = in_project.exclude(status=ThemeStatus.RETIRED).values_list("pk", "name")
    shared = {
        "run": run,
        "project_id": project_id,
        "embedding_model": embedding_model,
        "baseline": _baseline_as_json(_field_baseline(project_id)),
        "as_of": _latest_day(),
        "names": {str(pk): name for pk, name in live_names},
    }
    levels: dict[int | None, tuple[set[int], list[int]]] = {}  # None: the most specific
    for theme in themes:
        depth = hierarchy.depth(theme.pk) if theme.pk in broad else None
        if depth not in levels:
            levels[depth] = (_level(texts, hierarchy.depth, broad, depth), [])
        levels[depth][1].append(theme.pk)
    stored = []
    for level, described in levels.values():
        wording = _wording({pk: found for pk, found in texts.items() if pk in level}, described)
        left_out = broad if level is None else set(texts) - level
        sampled = _neighbourhood_points((embedding_model, project_id), left_out)
        stored.append(
            DescribingCorpus.objects.create(
                **shared,
                described=described,
                level=sorted(level),
                wording=wording,
                neighbourhood={str(pk): points for pk, points in sampled.items()},
            )
        )
    return stored


def _level(
    texts: dict[int, list[str]], depth_of: Callable[[int], int], broad: set[int], depth: int | None
) -> set[int]:
    """The themes (with texts) that a theme at depth (None: a most specific theme) is told
    apart from: the most specific themes, or the broad themes as deep and the most specific
    themes nearer the top."""
    if depth is None:
        return set(texts) - broad
    return {
        pk for pk in texts if depth_of(pk) == depth or (depth_of(pk) < depth and pk not in broad)
    }


def _wording(level_texts: dict[int, list[str]], described: list[int]) -> dict[str, Any]:
    keywords = theme_keywords(level_texts)
    phrases = theme_phrases(level_texts, top_n=PHRASES_PER_THEME)
    return {
        str(pk): {
            "keywords": keywords.get(pk, []),
            "phrases": [
                [phrase.text, phrase.score, phrase.items] for phrase in phrases.get(pk, [])
            ],
        }
        for pk in described
    }


def corpus_describing(theme_id: int, corpora: Sequence[DescribingCorpus]) -> DescribingCorpus:
    """The one of corpora that theme_id is described with."""
    for stored in corpora:
        if theme_id in stored.described:
            return stored
    raise LookupError(f"no describing corpus lists theme {theme_id}")


def load_corpus(stored: DescribingCorpus) -> Corpus:
    """The stored corpus with its neighbourhood's vectors read, once per process (a worker
    describes many themes with one corpus; a corpus is never changed once stored)."""
    return _load_corpus(stored.pk, stored.created_at.isoformat())


# Keyed by creation time as well as id: a database that rolls back may give an id again.
# Two at most: a neighbourhood of 500 themes is about 150 MB, and chunks come corpus by corpus.
@lru_cache(maxsize=2)
def _load_corpus(pk: int, created_at: str) -> Corpus:
    stored = DescribingCorpus.objects.get(pk=pk)
    wording = {int(key): value for key, value in stored.wording.items()}
    points = {
        int(key): [(item_id, unit_start) for item_id, unit_start in found]
        for key, found in stored.neighbourhood.items()
    }
    return Corpus(
        keywords={pk: value["keywords"] for pk, value in wording.items()},
        phrases={pk: [Phrase(*row) for row in value["phrases"]] for pk, value in wording.items()},
        baseline=FieldBaseline(
            {name: Counter(counts) for name, counts in stored.baseline["values"].items()},
            stored.baseline["totals"],
        ),
        as_of=stored.as_of,
        neighbourhood=_neighbourhood(points, stored.embedding_model),
        names={int(key): name for key, name in stored.names.items()},
    )


def _baseline_as_json(baseline: FieldBaseline) -> dict[str, Any]:
    return {
        "values": {name: dict(counts) for name, counts in baseline.values.items()},
        "totals": baseline.totals,
    }


def _field_baseline(project_id: int) -> FieldBaseline:
    """How the project's items' sources, kinds, ratings and metadata are spread: what a
    card's over-represented fields are measured against."""
    scales = source_scales()
    items = FeedbackItem.objects.filter(source__project_id=project_id)
    return FieldBaseline.of(
        item_segments(scales, *row)
        for row in items.values_list("source__name", "kind", "rating", "metadata").iterator(
            chunk_size=2000
        )
    )


def source_scales() -> dict[str, RatingScale | None]:
    """Each source's rating scale, by name (a deployment has tens of sources)."""
    return {source.name: source.scale_of_ratings for source in DataSource.objects.all()}


def item_segments(
    scales: dict[str, RatingScale | None],
    source: str,
    kind: str,
    rating: float | None,
    metadata: dict[str, Any],
) -> dict[str, str]:
    """An item's segment values (cards.segment_values), its rating written on its source's
    scale."""
    written = "" if rating is None else format_rating(rating, scales[source])
    return segment_values(source, kind, written, metadata)


def _neighbourhood_points(
    scope: tuple[str, int], leave_out: Collection[int] = ()
) -> dict[int, list[Point]]:
    """A sample of the items of every live theme of the project embedded by the embedding
    model (scope: the model and the project's id), but those left out: at most
    NEIGHBOURHOOD_ITEMS_PER_THEME a theme, nearest its centre first (a long item as the unit
    that put it in the theme; see Neighbourhood.of)."""
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
    return {theme_id: spread(points) for theme_id, points in members.items()}


def _neighbourhood(sampled: dict[int, list[Point]], embedding_model: str) -> Neighbourhood | None:
    """The sampled points with their vectors by the embedding model (points without one
    left out)."""
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


def _latest_day() -> date | None:
    latest = FeedbackItem.objects.aggregate(latest=Max("created_at"))["latest"]
    return timezone.localdate(latest) if latest else None


def texts_by_theme(project_id: int) -> dict[int, list[str]]:
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


def theme_texts(theme_id: int) -> list[str]:
    """One theme's texts as texts_by_theme gives them, read no further than they go."""
    rows = ThemeAssignment.objects.filter(theme_id=theme_id).order_by("-similarity")
    texts: list[str] = []
    for text, start, end in rows.values_list("item__text", "unit_start", "unit_end").iterator(
        chunk_size=500
    ):
        if not speaks_to_the_model(text):
            texts.append(quoted_part(text, start, end))
        if len(texts) == KEYWORD_TEXTS_PER_THEME:
            break
    return texts
