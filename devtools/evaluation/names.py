"""Theme names on Banking77: does a theme's name say its intent?

The product's themes (discover_themes) are named as the product names them
(insights.pipeline.describing.naming.name_theme: the model chooses among the theme's
phrases). A name matches when, of the 77 intent names ("card arrival", "pending top up"),
the one nearest it by the product's embedder is the theme's majority intent. The figure is
the share of items in themes whose name matches; beside it, on the same themes, the same
figure for the keyword fallback (top keywords joined) and for BERTopic's default topic
label (the real package, its c-TF-IDF on the same themes given as labels).
"""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from devtools.evaluation.pain_points import nearest_quotes
from devtools.evaluation.report import Row, Section
from insights.models import NameSource
from insights.pipeline.describing.corpus import PHRASES_PER_THEME
from insights.pipeline.describing.naming import (
    NAME_MAX_WORDS,
    NAME_MIN_WORDS,
    NAME_QUOTES_SHOWN,
    Neighbourhood,
    ThemeText,
    keyword_name,
    name_theme,
)
from insights.pipeline.themes.clustering import Clustering, clustering_libraries, discover_themes
from insights.pipeline.themes.keywords import (
    KEYWORD_TEXTS_PER_THEME,
    Phrase,
    theme_keywords,
    theme_phrases,
)
from llm.interfaces import DescribingModel, TextEmbedder

Progress = Callable[[int, int], None]
COLUMNS = ("names", "items matching", "themes matching", "fallback names", "seconds per theme")


@dataclass(frozen=True)
class NamedThemes:
    """The themes of one clustering, named as the product names them."""

    members: dict[int, list[int]]  # theme position: item indices, nearest its centre first
    keywords: dict[int, list[str]]
    phrases: dict[int, list[Phrase]]
    names: dict[int, str]
    sources: dict[int, str]  # the NameSource of each name


def theme_members(vectors: np.ndarray, clustering: Clustering) -> dict[int, list[int]]:
    """Each theme's member indices, nearest its centre first (as the product reads them)."""
    members = {}
    for position, theme in enumerate(clustering.theme_ids):
        rows = np.flatnonzero(clustering.labels == theme)
        order = rows[np.argsort(-(vectors[rows] @ clustering.centroids[position]), kind="stable")]
        members[position] = order.tolist()
    return members


def name_themes(
    texts: Sequence[str],
    vectors: np.ndarray,
    clustering: Clustering,
    models: tuple[DescribingModel, TextEmbedder],
    on_progress: Progress | None = None,
) -> NamedThemes:
    """Name every theme of the clustering as describe does (name_theme on the theme's
    phrases, keywords, nearest quotes, texts and the neighbourhood of every theme's items),
    largest first, each name distinct from those before."""
    members = theme_members(vectors, clustering)
    bucket = {p: [texts[i] for i in rows[:KEYWORD_TEXTS_PER_THEME]] for p, rows in members.items()}
    keywords = theme_keywords(bucket)
    phrases = theme_phrases(bucket, top_n=PHRASES_PER_THEME)
    neighbourhood = Neighbourhood.of({p: vectors[rows] for p, rows in members.items()})
    names: dict[int, str] = {}
    sources: dict[int, str] = {}
    order = sorted(members, key=lambda p: (-len(members[p]), p))
    for done, position in enumerate(order, 1):
        centre = clustering.centroids[position]
        rows = np.array(members[position])
        quotes = nearest_quotes(texts, vectors, rows, centre, NAME_QUOTES_SHOWN)
        text = ThemeText(
            phrases[position], keywords[position], quotes, bucket[position], position, neighbourhood
        )
        named = name_theme(text, models, taken=list(names.values()))
        names[position], sources[position] = named.name, named.source
        if on_progress:
            on_progress(done, len(order))
    return NamedThemes(members, keywords, phrases, names, sources)


def bertopic_names(texts: Sequence[str], labels: np.ndarray) -> dict[int, str]:
    """BERTopic's default topic label ("3_card_arrived_arrive_delivered") for each label,
    computed by BERTopic itself from the given labels (its manual topic modelling)."""
    clustering_libraries()  # numba's thread pool set before BERTopic imports UMAP
    from bertopic import BERTopic
    from bertopic.backend import BaseEmbedder
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction

    model = BERTopic(
        embedding_model=BaseEmbedder(),
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
    )
    model.fit_transform(list(texts), y=labels)
    names = model.get_topic_info().set_index("Topic")["Name"].to_dict()
    per_label: dict[int, Counter[str]] = {}
    for label, topic in zip(labels.tolist(), model.topics_, strict=True):
        per_label.setdefault(label, Counter())[names[topic]] += 1
    return {label: counts.most_common(1)[0][0] for label, counts in per_label.items()}


def bertopic_label_as_words(label: str) -> str:
    """'3_card_arrived_arrive' as the words it names: 'card arrived arrive'."""
    return " ".join(label.split("_")[1:])


def match_share(
    names: dict[int, str],
    majority: dict[int, str],
    sizes: dict[int, int],
    intents: Sequence[str],
    embedder: TextEmbedder,
) -> tuple[float, float]:
    """Return the share of items, and of themes, whose theme name is nearest its majority
    intent among all intents."""
    positions = list(names)
    intent_vectors = embedder.embed([intent.replace("_", " ") for intent in intents])
    name_vectors = embedder.embed([names[p] for p in positions])
    nearest = np.argmax(name_vectors @ intent_vectors.T, axis=1)
    matched = [intents[i] == majority[p] for p, i in zip(positions, nearest.tolist(), strict=True)]
    items = sum(sizes[p] for p, ok in zip(positions, matched, strict=True) if ok)
    return items / sum(sizes.values()), sum(matched) / len(matched)


def name_checks(names: dict[int, str], sources: dict[int, str]) -> dict[str, object]:
    """Distinct, readable names: duplicates, share of chosen names with 2-6 words, and
    dotted keyword lists not marked as the fallback."""
    values = [name.casefold() for name in names.values()]
    chosen = [names[p] for p in names if sources[p] == NameSource.CHOSEN]
    return {
        "duplicate names": len(values) - len(set(values)),
        "chosen names with 2-6 words": (
            sum(NAME_MIN_WORDS <= len(n.split()) <= NAME_MAX_WORDS for n in chosen) / len(chosen)
            if chosen
            else None
        ),
        "dotted names not marked fallback": sum(
            "·" in names[p] for p in names if sources[p] != NameSource.KEYWORDS
        ),
    }


def evaluate_names(
    texts: Sequence[str],
    intents: Sequence[str],
    vectors: np.ndarray,
    models: tuple[DescribingModel, TextEmbedder],
    on_progress: Progress | None = None,
) -> Section:
    """Return the names section: match shares for the product and the two baselines."""
    embedder = models[1]
    clustering = discover_themes(vectors, seed=0)
    began = time.perf_counter()
    named = name_themes(texts, vectors, clustering, models, on_progress)
    seconds = (time.perf_counter() - began) / max(len(named.names), 1)
    members, names, sources = named.members, named.names, named.sources
    fallback = {p: keyword_name(named.keywords[p]) for p in members}
    majority = {
        p: Counter(intents[i] for i in rows).most_common(1)[0][0] for p, rows in members.items()
    }
    sizes = {p: len(rows) for p, rows in members.items()}
    label_of = np.full(len(texts), -1)
    for p, its_rows in members.items():
        label_of[its_rows] = p
    assigned = np.flatnonzero(label_of >= 0).tolist()
    bertopic = bertopic_names([texts[i] for i in assigned], label_of[assigned])
    unique_intents = sorted(set(intents))
    fallback_share = sum(s != NameSource.CHOSEN for s in sources.values()) / len(sources)
    rows: list[Row] = []
    for title, shown, fallbacks in (
        ("ours: the theme's phrase that best finds its items", names, fallback_share),
        ("keyword fallback: top keywords joined", fallback, None),
        (
            "BERTopic default topic label, same themes",
            {p: bertopic_label_as_words(bertopic[p]) for p in members},
            None,
        ),
    ):
        items, themes = match_share(shown, majority, sizes, unique_intents, embedder)
        rows.append(
            {
                "names": title,
                "items matching": items,
                "themes matching": themes,
                "fallback names": fallbacks,
                "seconds per theme": seconds if shown is names else None,
            }
        )
    checks = name_checks(names, sources)
    examples = sorted(members, key=lambda p: -sizes[p])[:8]
    notes = [
        f"{len(texts):,} texts, {len(unique_intents)} intents, {len(members)} themes "
        "(discover_themes, UMAP seed 0). A name matches when the intent name nearest it "
        "(all-MiniLM-L6-v2 cosine) is the theme's majority intent. Target: ours >= 0.60 of "
        "items and ahead of both baselines.",
        "Checks of our names: " + "; ".join(f"{k} {v}" for k, v in checks.items()) + ".",
        "Largest themes (majority intent: ours | keywords | BERTopic): "
        + "; ".join(
            f"{majority[p]}: {names[p]} | {fallback[p]} | {bertopic_label_as_words(bertopic[p])}"
            for p in examples
        ),
    ]
    return Section("names", "Theme names on Banking77", COLUMNS, rows, notes)
