"""Pain points on the negative airline tweets: do our themes follow the annotated reasons
(negativereason), and how many of the language model's pain-point summaries pass the
product's grounding check (insights.pipeline.describing.summaries.summarise_pain_points)?"""

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from devtools.evaluation.report import Row, Section
from devtools.evaluation.themes import clustering_scores
from insights.models import SummaryKind
from insights.pipeline.describing.naming import keyword_name
from insights.pipeline.describing.quotes import Quote, first_distinct
from insights.pipeline.describing.summaries import (
    SUMMARY_QUOTES,
    PainSummary,
    summarise_pain_points,
)
from insights.pipeline.themes.clustering import Clustering, discover_themes
from insights.pipeline.themes.keywords import theme_keywords
from llm.interfaces import TextEmbedder, TextGenerator

Progress = Callable[[int, int], None]
# Summaries written: the largest themes, as many as a dashboard shows at a glance.
MAX_SUMMARISED_THEMES = 15
# UMAP's layout, and with it the number of themes, differs by seed on a few hundred short
# tweets (3 to 13 themes over seeds 0-3 and unseeded runs, 2026-12-02): one seed alone can
# mislead, so the figures are a mean over these.
CLUSTER_SEEDS = (0, 1, 2)
COLUMNS = ("measure", "value")
# Sentence numbers and measured figures in the notes of summarise_pain_points, left out
# when counting: "sentence 2 does not match ... (similarity 0.41 < 0.5)".
SENTENCE_NUMBER = re.compile(r"^sentence \d+")
MEASURED = re.compile(r"\s*\(.*?\)")


def nearest_quotes(
    texts: Sequence[str], vectors: np.ndarray, members: np.ndarray, centre: np.ndarray, n: int
) -> list[Quote]:
    """Return up to n (index, text) of the members nearest the centre, nearest first, one
    per distinct text (as the product picks a theme's quotes)."""
    members = np.sort(members)  # ties go to the lower index, as the product's to the lower id
    order = members[np.argsort(-(vectors[members] @ centre), kind="stable")]
    return first_distinct(((index, texts[index]) for index in order.tolist()), n)


def largest_themes(clustering: Clustering, limit: int) -> list[int]:
    """Return the positions (in clustering.theme_ids) of the limit largest themes."""
    sizes = [int((clustering.labels == theme).sum()) for theme in clustering.theme_ids]
    return sorted(range(len(sizes)), key=lambda i: (-sizes[i], i))[:limit]


def summarise_themes(
    texts: Sequence[str],
    vectors: np.ndarray,
    clusterings: Sequence[Clustering],
    models: tuple[TextGenerator, TextEmbedder],
    on_progress: Progress | None = None,
) -> list[PainSummary]:
    """Return the product's pain-point summary of each clustering's largest themes, named
    from their keywords (the name is not shown to a base model)."""
    llm, embedder = models
    jobs = []  # (quotes, name) of each summary to write, every clustering in turn
    for clustering in clusterings:
        chosen = largest_themes(clustering, MAX_SUMMARISED_THEMES)
        members = {i: np.flatnonzero(clustering.labels == clustering.theme_ids[i]) for i in chosen}
        keywords = theme_keywords(
            {i: [texts[j] for j in rows.tolist()] for i, rows in members.items()}
        )
        for i in chosen:
            centre = clustering.centroids[i]
            quotes = nearest_quotes(texts, vectors, members[i], centre, SUMMARY_QUOTES)
            jobs.append((quotes, keyword_name(keywords[i])))
    summaries = []
    for done, (quotes, name) in enumerate(jobs, 1):
        summaries.append(summarise_pain_points(quotes, name, llm, embedder))
        if on_progress:
            on_progress(done, len(jobs))
    return summaries


def failure_reasons(summaries: Sequence[PainSummary]) -> Counter[str]:
    """Count why generated summaries were replaced, by the check that failed (the note
    without its sentence number and figures)."""
    reasons: Counter[str] = Counter()
    for summary in summaries:
        if summary.kind == SummaryKind.EXTRACTIVE:
            note = summary.note.removeprefix("The generated summary was not used: ")
            note = note.split(", which")[0]  # "mentions X, which its quotes do not"
            note = SENTENCE_NUMBER.sub("a sentence", MEASURED.sub("", note))
            reasons[" ".join(note.rstrip(".").split())] += 1
    return reasons


def evaluate_pain_points(
    texts: Sequence[str],
    reasons: Sequence[str],
    vectors: np.ndarray,
    models: tuple[TextGenerator, TextEmbedder],
    on_progress: Progress | None = None,
) -> Section:
    """Return the pain-points section for the negative tweets given (texts, their
    negativereason and embeddings)."""
    began = time.perf_counter()
    clusterings = [discover_themes(vectors, seed=seed) for seed in CLUSTER_SEEDS]
    cluster_seconds = (time.perf_counter() - began) / len(CLUSTER_SEEDS)
    began = time.perf_counter()
    summaries = summarise_themes(texts, vectors, clusterings, models, on_progress)
    summary_seconds = time.perf_counter() - began
    grounded = sum(summary.kind == SummaryKind.GENERATED for summary in summaries)
    scores = [clustering_scores(reasons, clustering.labels) for clustering in clusterings]

    def mean(name: str) -> float:
        return float(np.mean([score[name] for score in scores]))

    def sd(name: str) -> float:
        return float(np.std(np.array([score[name] for score in scores], dtype=float)))

    rows: list[Row] = [
        {"measure": "negative tweets", "value": len(texts)},
        {"measure": "negativereason labels", "value": len(set(reasons))},
        {"measure": "themes (ours), mean", "value": mean("themes")},
        {"measure": "themes (ours), fewest and most", "value": _extremes(scores, "themes")},
        {"measure": "ARI vs negativereason", "value": mean("ARI")},
        {"measure": "ARI sd", "value": sd("ARI")},
        {"measure": "NMI vs negativereason", "value": mean("NMI")},
        {"measure": "NMI sd", "value": sd("NMI")},
        {"measure": "unassigned", "value": mean("unassigned")},
        {"measure": "themes summarised", "value": len(summaries)},
        {"measure": "summaries passing grounding", "value": grounded},
        {"measure": "share grounded", "value": grounded / len(summaries) if summaries else None},
        {"measure": "seconds: themes, per seed", "value": cluster_seconds},
        {"measure": "seconds: summaries", "value": summary_seconds},
    ]
    return Section(
        "pain_points", "Pain points on negative airline tweets", COLUMNS, rows, _notes(summaries)
    )


def _extremes(scores: Sequence[Row], name: str) -> str:
    values = np.array([score[name] for score in scores])
    return f"{values.min()}-{values.max()}"


def _notes(summaries: Sequence[PainSummary]) -> list[str]:
    notes = [
        "Themes: discover_themes on the negative tweets of the sentiment test sample, once "
        f"per UMAP seed {', '.join(map(str, CLUSTER_SEEDS))}; figures are the mean over "
        "seeds, sd the standard deviation. Summaries: summarise_pain_points on the "
        f"{SUMMARY_QUOTES} distinct tweets nearest each of the {MAX_SUMMARISED_THEMES} "
        "largest themes' centres, for every seed's themes.",
        "A summary passes when the product keeps the generated text; otherwise it falls "
        "back to quotes (extractive).",
    ]
    counts = failure_reasons(summaries).most_common(3)
    if counts:
        notes.append(
            "Most common reasons a summary failed: "
            + "; ".join(f"{reason} ({n})" for reason, n in counts)
            + "."
        )
    return notes
