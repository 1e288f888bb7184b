"""One workspace, two products: the demo's budgeting-app feedback with a second, real source
imported beside it (the Amazon device reviews longer than a post), themed together as the
product themes them (long items unit by unit, insights.pipeline.units) and as it themed
every item before issue 20 (whole), on the same embeddings and seeds.

The target (issue 20): no theme holds more than 25% of the items. Items count in each theme
one of their units is in; the largest theme's share is of all items. Also shown: how many
themes hold items of both sources (themes that mix the products), and the broad themes kept
as parents of the themes they split into, with how much each is one product. A third reading
puts each source in a project of its own, as a company with two products would (issue 20
part 3): each is clustered apart, so no theme can mix them.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from devtools.evaluation.report import Row, Section
from insights.pipeline.themes.clustering import NO_THEME, Clustering, discover_themes

SEEDS = (0, 1, 2)
LARGEST_SHARE_TARGET = 0.25
COLUMNS = (
    "reading",
    "seed",
    "themes",
    "largest theme",
    "largest theme's source",
    "themes mixing the sources",
    "items in no theme",
    "broad themes",
    "their main source's share",
    "levels",
)


def evaluate_mixed_workspace(
    sources: list[str],
    item_vectors: np.ndarray,
    unit_vectors: np.ndarray,
    unit_owners: np.ndarray,
    on_progress: Callable[[int, int], None] | None = None,
) -> Section:
    """sources: each item's source; unit_owners: the item each unit row is of."""
    rows = []
    readings = (
        ("items whole (before)", item_vectors, np.arange(len(sources))),
        ("long items unit by unit (the product)", unit_vectors, unit_owners),
    )
    steps = (len(readings) + 1) * len(SEEDS)
    for step, (reading, vectors, owners) in enumerate(readings):
        for seed in SEEDS:
            clustering = discover_themes(vectors, seed=seed, owners=owners)
            figures = _figures(sources, owners, clustering.labels)
            broad = _broad_figures(sources, owners, [_Placed(clustering, np.arange(len(owners)))])
            rows.append({"reading": reading, "seed": seed, **figures, **broad})
            if on_progress:
                on_progress(step * len(SEEDS) + seed + 1, steps)
    for seed in SEEDS:
        labels, clusterings = _clustered_per_source(sources, unit_vectors, unit_owners, seed)
        figures = _figures(sources, unit_owners, labels)
        broad = _broad_figures(sources, unit_owners, clusterings)
        rows.append(
            {"reading": "a project per source (unit by unit)", "seed": seed, **figures, **broad}
        )
        if on_progress:
            on_progress(len(readings) * len(SEEDS) + seed + 1, steps)
    counts = {name: sources.count(name) for name in dict.fromkeys(sources)}
    notes = [
        "; ".join(f"{name}: {n:,} items" for name, n in counts.items())
        + f", {len(unit_vectors):,} points unit by unit.",
        f"Target: no theme above {LARGEST_SHARE_TARGET:.0%} of the items (an item counts in "
        "each theme one of its units is in).",
    ]
    return Section("mixed_workspace", "Two products in one workspace", COLUMNS, rows, notes)


@dataclass(frozen=True)
class _Placed:
    """A clustering of some of the points: rows, the points it clustered."""

    clustering: Clustering
    rows: np.ndarray


def _clustered_per_source(
    sources: list[str], vectors: np.ndarray, owners: np.ndarray, seed: int
) -> tuple[np.ndarray, list[_Placed]]:
    """Each source's points clustered apart, as the product clusters each project's: theme
    labels numbered apart across sources, and each source's clustering with its points."""
    labels = np.full(len(owners), NO_THEME)
    clusterings = []
    point_sources = np.array([sources[owner] for owner in owners.tolist()])
    for name in dict.fromkeys(sources):
        rows = np.flatnonzero(point_sources == name)
        clustering = discover_themes(vectors[rows], seed=seed, owners=owners[rows])
        themed = clustering.labels != NO_THEME
        labels[rows[themed]] = clustering.labels[themed] + labels.max() + 1
        clusterings.append(_Placed(clustering, rows))
    return labels, clusterings


def _members(owners: np.ndarray, labels: np.ndarray) -> dict[int, set[int]]:
    """The items of each label but NO_THEME."""
    members: dict[int, set[int]] = {}
    for owner, label in zip(owners.tolist(), labels.tolist(), strict=True):
        if label != NO_THEME:
            members.setdefault(label, set()).add(owner)
    return members


def _broad_figures(sources: list[str], owners: np.ndarray, clusterings: list[_Placed]) -> Row:
    """How many broad themes (kept as parents of the themes they split into, at any
    level) there are, the share of their items, all together, from each one's main source
    (1.0 when each broad theme is one product), and how many levels of themes the deepest
    hierarchy has (1: none split)."""
    broad, levels = [], 1
    for placed in clusterings:
        for mask in placed.clustering.broad_members().values():
            broad.append(set(owners[placed.rows[mask]].tolist()))
        levels = max(levels, placed.clustering.levels())
    if not broad:
        return {"broad themes": 0, "their main source's share": "—", "levels": 1}
    main = 0
    for items in broad:
        of_source = [sources[item] for item in items]
        main += max(of_source.count(name) for name in set(of_source))
    return {
        "broad themes": len(broad),
        "their main source's share": main / sum(len(items) for items in broad),
        "levels": levels,
    }


def _figures(sources: list[str], owners: np.ndarray, labels: np.ndarray) -> Row:
    members = _members(owners, labels)
    if not members:
        return {"themes": 0, "largest theme": 0.0, "largest theme's source": "—"}
    largest = max(members.values(), key=len)
    of_source = [sources[item] for item in largest]
    themed = set().union(*members.values())
    return {
        "themes": len(members),
        "largest theme": len(largest) / len(sources),
        "largest theme's source": max(set(of_source), key=of_source.count),
        "themes mixing the sources": sum(
            len({sources[item] for item in items}) > 1 for items in members.values()
        ),
        "items in no theme": 1 - len(themed) / len(sources),
    }
