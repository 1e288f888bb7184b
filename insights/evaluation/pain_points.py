"""Pain points on the negative airline tweets: do our themes follow the annotated reasons
(negativereason), and how many of the language model's pain-point summaries pass the
product's grounding check (insights.summaries.summarise_pain_points)?"""

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from insights.clustering import Clustering, discover_themes
from insights.evaluation.report import Row, Section
from insights.evaluation.themes import clustering_scores
from insights.keywords import theme_keywords
from insights.models import SummaryKind
from insights.naming import keyword_name
from insights.summaries import SUMMARY_QUOTES, PainSummary, summarise_pain_points
from insights.wording import Quote, first_distinct
from llm.embeddings import Embedder
from llm.generation import LocalLLM

Progress = Callable[[int, int], None]
# Summaries written: the largest themes, as many as a dashboard shows at a glance.
MAX_SUMMARISED_THEMES = 15
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
    clustering: Clustering,
    models: tuple[LocalLLM, Embedder],
    on_progress: Progress | None = None,
) -> list[PainSummary]:
    """Return the product's pain-point summary of each of the largest themes, named from
    their keywords (the name is not shown to a base model)."""
    llm, embedder = models
    chosen = largest_themes(clustering, MAX_SUMMARISED_THEMES)
    members = {i: np.flatnonzero(clustering.labels == clustering.theme_ids[i]) for i in chosen}
    keywords = theme_keywords({i: [texts[j] for j in rows] for i, rows in members.items()})
    summaries = []
    for done, i in enumerate(chosen, 1):
        quotes = nearest_quotes(texts, vectors, members[i], clustering.centroids[i], SUMMARY_QUOTES)
        summaries.append(summarise_pain_points(quotes, keyword_name(keywords[i]), llm, embedder))
        if on_progress:
            on_progress(done, len(chosen))
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
    models: tuple[LocalLLM, Embedder],
    on_progress: Progress | None = None,
) -> Section:
    """Return the pain-points section for the negative tweets given (texts, their
    negativereason and embeddings)."""
    began = time.perf_counter()
    clustering = discover_themes(vectors, seed=0)
    cluster_seconds = time.perf_counter() - began
    began = time.perf_counter()
    summaries = summarise_themes(texts, vectors, clustering, models, on_progress)
    summary_seconds = time.perf_counter() - began
    grounded = sum(summary.kind == SummaryKind.GENERATED for summary in summaries)
    scores = clustering_scores(reasons, clustering.labels)
    rows: list[Row] = [
        {"measure": "negative tweets", "value": len(texts)},
        {"measure": "negativereason labels", "value": len(set(reasons))},
        {"measure": "themes (ours)", "value": scores["themes"]},
        {"measure": "ARI vs negativereason", "value": scores["ARI"]},
        {"measure": "NMI vs negativereason", "value": scores["NMI"]},
        {"measure": "unassigned", "value": scores["unassigned"]},
        {"measure": "themes summarised", "value": len(summaries)},
        {"measure": "summaries passing grounding", "value": grounded},
        {"measure": "share grounded", "value": grounded / len(summaries) if summaries else None},
        {"measure": "seconds: themes", "value": cluster_seconds},
        {"measure": "seconds: summaries", "value": summary_seconds},
    ]
    return Section(
        "pain_points", "Pain points on negative airline tweets", COLUMNS, rows, _notes(summaries)
    )


def _notes(summaries: Sequence[PainSummary]) -> list[str]:
    notes = [
        "Themes: discover_themes (seed 0) on the negative tweets of the sentiment test "
        f"sample; summaries: summarise_pain_points on the {SUMMARY_QUOTES} distinct tweets "
        f"nearest each of the {MAX_SUMMARISED_THEMES} largest themes' centres.",
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
