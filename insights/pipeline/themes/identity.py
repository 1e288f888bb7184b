"""Themes as stored rows: found by clustering, kept across re-clustering, grown as items arrive.

Themes are found per project (ingestion.models.Project): each project's items are clustered
apart from every other's (ThemeScope), so two products never share a theme.

Clustering labels are numbers that mean nothing from one run to the next. A re-cluster
matches its clusters to the stored themes by shared members (and centre, for a theme whose
members changed), so a theme keeps its id, name, status and history; items a person moved
stay where that person put them. A theme a person merged into another is never continued:
clusters that match it (or mostly hold the other theme's items) join the theme it went into.
"""

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Max, Min, QuerySet

from ingestion.models import DataSource, FeedbackItem
from insights.models import (
    AssignmentMethod,
    ItemEmbedding,
    Theme,
    ThemeAssignment,
    ThemeHierarchy,
    ThemeStatus,
)
from insights.pipeline.embedding import (
    ThemePoints,
    count_embedded_items,
    count_points,
    item_vectors,
    theme_points,
)
from insights.pipeline.themes.clustering import (
    NO_THEME,
    assign_to_themes,
    discover_themes,
    stratified_sample,
)
from insights.pipeline.themes.clustering import Clustering as ClusterResult

# Items a query when keeping broad themes in step: id lists well inside SQLite's limit on
# query parameters.
ITEM_BATCH_SIZE = 2000
# Share of a new cluster's members that must come from one stored theme (Jaccard of the two
# member sets) for the cluster to be that theme again.
MATCH_MIN_JACCARD = 0.2
# Without shared members (a new embedding model, say), centres this close are the same theme.
MATCH_MIN_COSINE = 0.9
# A cluster left unmatched stays in a theme people merged others into when at least this
# share of its members are in that theme already (people said they are one theme).
MERGED_MIN_SHARE = 0.5


@dataclass(frozen=True)
class ThemeScope:
    """What one clustering covers: one project's items and themes, by one embedding model."""

    embedding_model: str
    project_id: int

    def live(self) -> QuerySet[Theme]:
        return Theme.objects.live(self.embedding_model).filter(project_id=self.project_id)

    def leaves(self) -> QuerySet[Theme]:
        return Theme.objects.leaves(self.embedding_model).filter(project_id=self.project_id)

    def items(self) -> QuerySet[FeedbackItem]:
        return FeedbackItem.objects.filter(source__project_id=self.project_id)


def theme_scopes(embedding_model: str) -> list[ThemeScope]:
    """One scope per project that has sources, in the order projects were made."""
    projects = DataSource.objects.values_list("project_id", flat=True).distinct()
    return [ThemeScope(embedding_model, project) for project in sorted(set(projects))]


Result = TypeVar("Result", "ReclusterResult", "LeftoverResult")


def _totals(results: Sequence[Result], kind: type[Result]) -> Result:
    """One result of kind whose every figure is the sum of the results' (one per project)."""
    names = [field.name for field in fields(kind)]
    return kind(**{name: sum(getattr(result, name) for result in results) for name in names})


@dataclass(frozen=True)
class ReclusterResult:
    themes: int
    kept: int  # stored themes found again
    created: int
    retired: int
    items_assigned: int
    unthemed: int  # items the clustering found too scattered for any theme
    in_several: int = 0  # long items whose units fell in more than one theme
    parents: int = 0  # themes too broad to mean something, kept with sub-themes inside
    # Items outside the sample the themes were fitted on, left to join their nearest theme.
    outside_sample: int = 0

    def describe(self) -> str:
        """What the re-cluster did, in a sentence for the run page."""
        several = (
            f" {self.in_several} long items are in several themes, one for each thing "
            "they talk about."
            if self.in_several
            else ""
        )
        broad = (
            f" {self.parents} of them {'is' if self.parents == 1 else 'are'} too broad to "
            "mean something and hold sub-themes."
            if self.parents
            else ""
        )
        sample = (
            f" Fitted on a sample; the other {self.outside_sample} items join their nearest "
            "theme next."
            if self.outside_sample
            else ""
        )
        return (
            f"Re-clustered into {self.themes} themes ({self.kept} found again, "
            f"{self.created} new, {self.retired} retired); {self.unthemed} items are too "
            f"scattered for any theme.{sample}{broad}{several}"
        )

    def with_rest_assigned(self, joined: int) -> "ReclusterResult":
        """The result once joined of the items it left without a theme (scattered, or
        outside the sample) joined their nearest theme."""
        return replace(
            self,
            items_assigned=self.items_assigned + joined,
            unthemed=self.unthemed + self.outside_sample - joined,
            outside_sample=0,
        )


def needs_recluster(embedding_model: str) -> bool:
    """Return whether there are no themes yet for this embedding model."""
    return not Theme.objects.live(embedding_model).exists()


def recluster(
    embedding_model: str,
    seed: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReclusterResult:
    """Cluster every embedded item again (cluster_again), then give each item it left
    without a theme the nearest stored theme it is close enough to (assign_new_items): what
    an analysis run does in two stages, the second in chunks, done here in one call."""
    clustered = cluster_again(embedding_model, seed, on_progress)
    return clustered.with_rest_assigned(assign_new_items(embedding_model))


def cluster_again(
    embedding_model: str,
    seed: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReclusterResult:
    """Cluster every embedded item (a long one unit by unit) again, each project's apart,
    and store the result, keeping theme identities. Items outside the sample a project's
    themes were fitted on (_discover), and those the clustering found too scattered, are
    left without a theme, for assign_new_items (or a run's chunks) to place: the clustering
    judged the scattered ones against its own clusters' centres, and the stored themes'
    differ where clusters were merged or split."""
    total = count_embedded_items(embedding_model)
    if on_progress:
        on_progress(0, total)
    results, done = [], 0
    for scope in theme_scopes(embedding_model):
        points = theme_points(scope.items(), embedding_model)
        fitted, clustering = _discover(points, scope, seed)
        with transaction.atomic():
            stored = _store_clustering(scope, fitted, clustering)
        results.append(replace(stored, outside_sample=points.items - fitted.items))
        done += points.items
        if on_progress:
            on_progress(min(done, total), total)
    return _totals(results, ReclusterResult)


def _discover(
    points: ThemePoints, scope: ThemeScope, seed: int | None
) -> tuple[ThemePoints, ClusterResult]:
    """Discover the scope's themes on every point or, past FEEDLENS_CLUSTER_SAMPLE points,
    on a sample of about that many points (_sample); return the points fitted on and their
    clustering. UMAP's time and memory grow with the sample, not with the feedback
    (BERTopic's advice for a million documents: fit on a subset and assign the rest)."""
    size = settings.FEEDLENS_CLUSTER_SAMPLE
    fitted = points if len(points) <= size else points.rows(_sample(points, scope, size, seed))
    return fitted, discover_themes(fitted.vectors, seed=seed, owners=fitted.item_ids)


def _sample(points: ThemePoints, scope: ThemeScope, size: int, seed: int | None) -> np.ndarray:
    """The rows of the points of a sample of items with about size points, stratified by
    source and week, with every item a person moved in a theme; an item is in it with every
    one of its points, so a long item is fitted, and themed, whole."""
    item_ids = np.unique(points.item_ids)
    moved = ThemeAssignment.objects.filter(
        method=AssignmentMethod.PERSON, theme__project_id=scope.project_id
    ).values_list("item_id", flat=True)
    keep = np.isin(item_ids, np.fromiter(moved, dtype=np.int64))
    strata = _source_weeks(item_ids, scope.items())
    items_wanted = round(size * len(item_ids) / len(points))
    chosen = item_ids[stratified_sample(strata, items_wanted, keep, seed)]
    return np.flatnonzero(np.isin(points.item_ids, chosen))


def _source_weeks(item_ids: np.ndarray, items: QuerySet[FeedbackItem]) -> np.ndarray:
    """One stratum per item of item_ids (of items): its source and the week it was written
    (-1: undated)."""
    codes: dict[int, int] = {}
    rows = items.order_by().values_list("pk", "source_id", "created_at")
    for pk, source_id, created_at in rows.iterator(chunk_size=ITEM_BATCH_SIZE * 5):
        week = created_at.toordinal() // 7 if created_at else -1
        codes[pk] = source_id * 1_000_000 + week
    return np.array([codes.get(pk, -1) for pk in item_ids.tolist()], dtype=np.int64)


def _store_clustering(
    scope: ThemeScope, points: ThemePoints, clustering: ClusterResult
) -> ReclusterResult:
    # Stored members are compared among the items clustered: a re-cluster fitted on a
    # sample finds a theme again by the sample's share of its members.
    old_members, direct = _members_by_theme(scope, set(points.item_ids.tolist()))
    clusters = _Clusters.of(points, clustering)
    targets = _match_clusters(clusters, old_members, scope)
    # A broad theme is continued one to one or is new: never merged into another, and
    # never continued by one of the themes it holds.
    unmatched = {
        key: members
        for key, members in clusters.members.items()
        if key not in targets and key not in clusters.parent_keys
    }
    broad = {targets[key] for key in clusters.parent_keys if key in targets}
    merged = _match_merged(unmatched, clusters, direct, scope)
    targets.update({key: theme for key, theme in merged.items() if theme not in broad})
    themes = _themes_for_clusters(targets, clusters, clustering, points.vectors, scope)
    _set_parents(themes, clusters)
    _orphan_the_rest(themes, scope)
    retired = _retire_unmatched(scope, {theme.pk for theme in themes.values()})
    rows = _reassign(points, clustering, themes, scope)
    sync_parent_memberships(set(points.item_ids.tolist()))
    per_item = Counter(row.item_id for row in rows)
    # Every live theme: those no cluster continued keep only the items people put there.
    refresh_theme_stats(list(scope.live().values_list("pk", flat=True)))
    kept = len(set(targets.values()))
    distinct = len({theme.pk for theme in themes.values()})
    return ReclusterResult(
        themes=distinct,
        kept=kept,
        created=distinct - kept,
        retired=retired,
        items_assigned=len(per_item),
        unthemed=_unthemed(points.item_ids, clustering.labels),
        in_several=sum(count > 1 for count in per_item.values()),
        parents=len({themes[key].pk for key in clusters.parent_keys}),
    )


@dataclass(frozen=True)
class _Clusters:
    """What a clustering stores as themes, by key: its theme labels and, numbered after
    them, the broad themes some were split from (their parents)."""

    members: dict[int, set[int]]  # the items of each
    points: dict[int, np.ndarray]  # which points each holds (a mask over the points)
    centres: dict[int, np.ndarray]
    parent_of: dict[int, int]  # the parent key of each key split from a broad theme

    @property
    def parent_keys(self) -> set[int]:
        return set(self.parent_of.values())

    @classmethod
    def of(cls, points: ThemePoints, clustering: ClusterResult) -> "_Clusters":
        masks = {int(label): clustering.labels == label for label in clustering.theme_ids}
        centres = dict(zip(masks, clustering.centroids, strict=True))
        offset = max(masks, default=-1) + 1
        parent_of = {label: offset + parent for label, parent in clustering.parent_of().items()}
        parent_of |= {offset + child: offset + up for child, up in clustering.broad_parents.items()}
        for broad, mask in clustering.broad_members().items():
            masks[offset + broad] = mask
            mean = points.vectors[mask].mean(axis=0)
            centres[offset + broad] = mean / (np.linalg.norm(mean) or 1.0)
        members = {key: set(points.item_ids[mask].tolist()) for key, mask in masks.items()}
        return cls(members, masks, centres, parent_of)

    def centre(self, keys: list[int], vectors: np.ndarray) -> np.ndarray:
        """The unit-length centre of the clusters' points, as little-endian float32."""
        if len(keys) == 1:
            return self.centres[keys[0]].astype("<f4")
        mean = vectors[np.logical_or.reduce([self.points[key] for key in keys])].mean(axis=0)
        return (mean / (np.linalg.norm(mean) or 1.0)).astype("<f4")


def _set_parents(themes: dict[int, Theme], clusters: _Clusters) -> None:
    """Give each theme, broad ones too, the parent its cluster has (none for the others): a
    theme continued from an earlier run may have moved."""
    changed: dict[int, Theme] = {}
    for key, theme in themes.items():
        parent = themes.get(clusters.parent_of.get(key, -1))
        parent_id = parent.pk if parent is not None and parent.pk != theme.pk else None
        if theme.parent_id != parent_id:
            theme.parent_id = parent_id
            changed[theme.pk] = theme
    Theme.objects.bulk_update(list(changed.values()), ["parent"])


def _orphan_the_rest(themes: dict[int, Theme], scope: ThemeScope) -> None:
    """A live theme no cluster continued (a person's items keep it) is no broad theme's
    part any more."""
    kept = {theme.pk for theme in themes.values()}
    scope.live().exclude(pk__in=kept).update(parent=None)


def _unthemed(ids: np.ndarray, labels: np.ndarray) -> int:
    """How many of the items no point of fell in a theme."""
    return len(set(ids.tolist()) - set(ids[labels != NO_THEME].tolist()))


def _members_by_theme(
    scope: ThemeScope, among: set[int]
) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """The items of each live theme that are among these, in one pass over their
    assignments: all of them, and those not held through a sub-theme (a broad theme's own)."""
    members: dict[int, set[int]] = {}
    direct: dict[int, set[int]] = {}
    rows = ThemeAssignment.objects.filter(theme__in=scope.live()).values_list(
        "theme_id", "item_id", "method"
    )
    for theme_id, item_id, method in rows.iterator(chunk_size=5000):
        if item_id not in among:
            continue
        members.setdefault(theme_id, set()).add(item_id)
        if method != AssignmentMethod.PARENT:
            direct.setdefault(theme_id, set()).add(item_id)
    return members, direct


def _match_clusters(
    clusters: _Clusters, old_members: dict[int, set[int]], scope: ThemeScope
) -> dict[int, int]:
    """Return {cluster key: stored theme id}, one to one, best overlaps first. Broad themes
    and their parts are matched together: a theme that grew too broad is continued by the
    broad cluster (its members are all of it), its parts are new or continue earlier parts."""
    from scipy.optimize import linear_sum_assignment

    old = list(scope.live().only("id", "centroid"))
    labels = list(clusters.members)
    if not old or not labels:
        return {}
    jaccard = np.array(
        [
            [_jaccard(clusters.members[label], old_members.get(theme.pk, set())) for theme in old]
            for label in labels
        ]
    )
    old_centres = np.stack([theme.centroid_array() for theme in old])
    centres = np.stack([clusters.centres[label] for label in labels])
    cosine = centres @ old_centres.T
    # Members decide; the centre breaks ties and decides alone when no members are shared.
    rows, cols = linear_sum_assignment(-(jaccard + 0.01 * cosine))
    return {
        labels[r]: old[c].pk
        for r, c in zip(rows, cols, strict=True)
        if jaccard[r, c] >= MATCH_MIN_JACCARD or cosine[r, c] >= MATCH_MIN_COSINE
    }


def _jaccard(a: set[int], b: set[int]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _match_merged(
    unmatched: dict[int, set[int]],
    clusters: _Clusters,
    old_members: dict[int, set[int]],
    scope: ThemeScope,
) -> dict[int, int]:
    """Return {cluster label: live theme id} for clusters that belong to a theme people
    merged others into: the cluster's centre is a merged-away theme's (MATCH_MIN_COSINE),
    or most of its members are in the theme that absorbed it already (MERGED_MIN_SHARE).
    The merged-away theme itself is never continued: its items stay where people put them."""
    merged = list(
        Theme.objects.filter(merged_into__in=scope.live()).only("id", "centroid", "merged_into_id")
    )
    if not merged or not unmatched:
        return {}
    centres = np.stack([theme.centroid_array() for theme in merged])
    # The theme each was merged into, in merged's order (the query asks for merged ones).
    root_of = [theme.merged_into_id for theme in merged if theme.merged_into_id is not None]
    roots = set(root_of)
    found: dict[int, int] = {}
    for label, members in unmatched.items():
        cosine = centres @ clusters.centres[label]
        nearest = int(np.argmax(cosine))
        shares = {
            root: len(members & old_members.get(root, set())) / len(members) for root in roots
        }
        root = max(shares, key=lambda theme_id: shares[theme_id])
        if cosine[nearest] >= MATCH_MIN_COSINE:
            found[label] = root_of[nearest]
        elif shares[root] >= MERGED_MIN_SHARE:
            found[label] = root
    return found


def _themes_for_clusters(
    targets: dict[int, int],
    clusters: _Clusters,
    clustering: ClusterResult,
    vectors: np.ndarray,
    scope: ThemeScope,
) -> dict[int, Theme]:
    """Return the theme of each cluster key: the stored theme it continues (targets), with
    its new centre, or a new theme. Several clusters continue one theme only where people
    merged themes into it; its centre is then that of all their members."""
    stored = Theme.objects.in_bulk(set(targets.values()))
    keys_of: dict[int, list[int]] = {}
    for key, theme_id in targets.items():
        keys_of.setdefault(theme_id, []).append(key)
    for theme_id, its_keys in keys_of.items():
        theme = stored[theme_id]
        theme.centroid = clusters.centre(its_keys, vectors).tobytes()
        theme.part_centroids = _part_centres(its_keys, clustering)
        theme.save(update_fields=["centroid", "part_centroids", "updated_at"])
    themes = {key: stored[theme_id] for key, theme_id in targets.items()}
    for key in clusters.members:
        if key not in themes:
            themes[key] = Theme.objects.create(
                name=f"Theme {key + 1}",
                centroid=clusters.centre([key], vectors).tobytes(),
                part_centroids=_part_centres([key], clustering),
                embedding_model=scope.embedding_model,
                project_id=scope.project_id,
            )
    return themes


def _part_centres(keys: list[int], clustering: ClusterResult) -> bytes:
    """Return the centres of the clusters' parts as little-endian float32 rows (empty
    where the clustering has no parts, and for a broad theme: new items join its parts'
    themes, never it)."""
    labels = [key for key in keys if key in clustering.theme_ids]
    if clustering.part_centroids is None or not labels:
        return b""
    rows = [clustering.centres_of(label) for label in labels]
    return np.vstack(rows).astype("<f4").tobytes()


def _retire_unmatched(scope: ThemeScope, kept_ids: set[int]) -> int:
    """Retire the active themes no cluster continued, unless a person put items in them; a
    theme a person marked resolved or ignored keeps that mark (and its history)."""
    by_people = ThemeAssignment.objects.filter(method=AssignmentMethod.PERSON).values("theme_id")
    unmatched = (
        scope.live()
        .filter(status=ThemeStatus.ACTIVE)
        .exclude(pk__in=kept_ids)
        .exclude(pk__in=by_people)
    )
    return unmatched.update(status=ThemeStatus.RETIRED, size=0)


def _reassign(
    points: ThemePoints, clustering: ClusterResult, themes: dict[int, Theme], scope: ThemeScope
) -> list[ThemeAssignment]:
    """Replace every machine-made assignment to the scope's themes with this clustering's,
    keep people's; return the new ones."""
    in_scope = ThemeAssignment.objects.filter(theme__project_id=scope.project_id)
    moved_by_people = set(
        in_scope.filter(method=AssignmentMethod.PERSON).values_list("item_id", flat=True)
    )
    machine_made = in_scope.exclude(method=AssignmentMethod.PERSON)
    corrected = _sentiments_set_by_people(machine_made)
    machine_made.delete()
    rows = _cluster_assignments(points, clustering.labels, themes, moved_by_people)
    for row in rows:
        label = corrected.get((row.item_id, row.theme_id, row.unit_start, row.unit_end))
        if label:
            row.sentiment, row.sentiment_by_person = label, True
    ThemeAssignment.objects.bulk_create(rows, batch_size=2000)
    return rows


def _sentiments_set_by_people(
    assignments: QuerySet[ThemeAssignment],
) -> dict[tuple[int, int, int | None, int | None], str]:
    """The sentiment people set toward a theme, by (item, theme, quoted span): what an
    assignment quoting the same span gets back."""
    rows = assignments.filter(sentiment_by_person=True).values_list(
        "item_id", "theme_id", "unit_start", "unit_end", "sentiment"
    )
    return {(item, theme, start, end): label for item, theme, start, end, label in rows}


def _cluster_assignments(
    points: ThemePoints,
    labels: np.ndarray,
    themes: dict[int, Theme],
    left_out: Collection[int] = (),
) -> list[ThemeAssignment]:
    """One assignment per item and theme of its points' clusters (none for NO_THEME or
    items left_out), by its point nearest the theme's centre."""
    theme_ids = {label: theme.pk for label, theme in themes.items()}
    centres = {label: theme.centroid_array() for label, theme in themes.items()}
    return _nearest_per_theme(
        points, labels, theme_ids, centres, AssignmentMethod.CLUSTER, left_out
    )


def _nearest_per_theme(
    points: ThemePoints,
    labels: np.ndarray,
    theme_ids: Mapping[int, int] | Sequence[int],
    centres: Mapping[int, np.ndarray] | np.ndarray,
    method: str,
    left_out: Collection[int] = (),
) -> list[ThemeAssignment]:
    """One assignment per item and theme its points' labels give (label: the theme's id in
    theme_ids, its centre in centres; none for NO_THEME or items left_out), quoting the
    item's point nearest the theme's centre (the first of equals). Computed on arrays, one
    label's points at a time: a row object is made only for each item and theme."""
    rows = np.flatnonzero(labels != NO_THEME)
    if left_out:
        rows = rows[~np.isin(points.item_ids[rows], np.fromiter(left_out, dtype=np.int64))]
    if not len(rows):
        return []
    rows = rows[np.argsort(labels[rows], kind="stable")]
    used, starts = np.unique(labels[rows], return_index=True)
    similarity = np.empty(len(rows), dtype=np.float32)
    theme_of = np.empty(len(rows), dtype=np.int64)
    for label, start, end in zip(used.tolist(), starts, [*starts[1:], len(rows)], strict=True):
        similarity[start:end] = points.vectors[rows[start:end]] @ centres[label]
        theme_of[start:end] = theme_ids[label]
    # By item, then theme, then nearest first; ties keep the points' order (a stable sort).
    items = points.item_ids[rows]
    order = np.lexsort((rows, -similarity, theme_of, items))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (np.diff(items[order]) != 0) | (np.diff(theme_of[order]) != 0)
    return [
        _assignment(points, int(rows[at]), int(theme_of[at]), float(similarity[at]), method)
        for at in order[first]
    ]


def _assignment(
    points: ThemePoints, point: int, theme_id: int, similarity: float, method: str
) -> ThemeAssignment:
    start, end = points.span(point) or (None, None)
    return ThemeAssignment(
        item_id=int(points.item_ids[point]),
        theme_id=theme_id,
        similarity=similarity,
        unit_start=start,
        unit_end=end,
        method=method,
    )


def assign_new_items(
    embedding_model: str, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Give each embedded item without a theme the nearest live theme of its project, if
    close enough; return how many items joined a theme. Centres stay as the last re-cluster
    left them; an item nearest a merged-away theme joins the theme it was merged into. An
    analysis run does this in chunks (items_to_assign, then assign_items on each)."""
    item_ids = items_to_assign(embedding_model)
    if on_progress:
        on_progress(0, len(item_ids))
    joined = 0
    size = settings.FEEDLENS_ASSIGN_CHUNK_ITEMS
    for start in range(0, len(item_ids), size):
        chunk = item_ids[start : start + size]
        joined += assign_items(chunk, embedding_model)
        if on_progress:
            on_progress(start + len(chunk), len(item_ids))
    return joined


def items_to_assign(embedding_model: str) -> list[int]:
    """The ids of the items embedded by the model that are in no theme yet, of projects
    with live themes, in id order."""
    embedded = ItemEmbedding.objects.filter(embedding__model_name=embedding_model)
    projects = [
        scope.project_id for scope in theme_scopes(embedding_model) if scope.live().exists()
    ]
    unthemed = FeedbackItem.objects.filter(
        source__project_id__in=projects,
        theme_assignments__isnull=True,
        pk__in=embedded.values("item_id"),
    )
    return list(unthemed.order_by("pk").values_list("pk", flat=True))


def assign_items(item_ids: Sequence[int], embedding_model: str) -> int:
    """assign_new_items for these items (those in a theme already are left as they are);
    return how many joined a theme."""
    joined = 0
    for scope in theme_scopes(embedding_model):
        joined += _assign_in(scope, _unthemed_in(scope, item_ids))
    return joined


def _unthemed_points(embedding_model: str) -> list[tuple[ThemeScope, ThemePoints]]:
    """The points of the embedded items in no theme yet, project by project."""
    return [(scope, _unthemed_in(scope)) for scope in theme_scopes(embedding_model)]


def _unthemed_in(scope: ThemeScope, item_ids: Sequence[int] | None = None) -> ThemePoints:
    """The points of the scope's embedded items (of item_ids, if given) in no theme yet."""
    items = scope.items().filter(theme_assignments__isnull=True)
    if item_ids is not None:
        items = items.filter(pk__in=list(item_ids))
    return theme_points(items, scope.embedding_model)


def _assign_in(scope: ThemeScope, points: ThemePoints) -> int:
    """assign_new_items for one project's points."""
    theme_ids, centres = _assignable_centres(scope)
    if not theme_ids or not len(points):
        return 0
    known = ClusterResult(
        labels=np.zeros(0, dtype=int), theme_ids=np.arange(len(theme_ids)), centroids=centres
    )
    labels = assign_to_themes(points.vectors, known)
    rows = _nearest_per_theme(points, labels, theme_ids, centres, AssignmentMethod.NEAREST)
    with transaction.atomic():
        # Another run may have assigned some of them meanwhile; its row is as good.
        ThemeAssignment.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        parents = sync_parent_memberships({row.item_id for row in rows})
        refresh_theme_stats({row.theme_id for row in rows} | parents)
    return len({row.item_id for row in rows})


@dataclass(frozen=True)
class LeftoverResult:
    unthemed: int  # embedded items that fit no theme before
    themes: int  # new themes found among them
    assigned: int  # of them, now in a new theme

    def describe(self) -> str:
        """What was done about the items that fit no theme, in a sentence for the run page."""
        if not self.unthemed:
            return "Every item fits a theme."
        fit = f"{self.unthemed} item{'s' * (self.unthemed != 1)} fit no theme"
        if not self.themes:
            return f"{fit}; clustered among themselves, they form no theme yet."
        still = self.unthemed - self.assigned
        return (
            f"{fit}; clustered among themselves, {self.assigned} formed "
            f"{self.themes} new theme{'s' * (self.themes != 1)}, and {still} still fit none."
        )


def theme_leftovers(
    embedding_model: str,
    seed: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> LeftoverResult:
    """Cluster the embedded items that fit no theme (new ones and earlier ones) among
    themselves, each project's apart, with the smallest theme size of the project's whole
    feedback; each cluster becomes a new theme. Stored themes are left as they are: a new
    topic appears without a re-cluster (and a new project gets its first themes)."""
    unthemed = _unthemed_points(embedding_model)
    total = sum(points.items for _, points in unthemed)
    if on_progress:
        on_progress(0, total)
    results = [_leftovers_in(scope, points, seed) for scope, points in unthemed]
    if on_progress:
        on_progress(total, total)
    return _totals(results, LeftoverResult)


def _leftovers_in(scope: ThemeScope, points: ThemePoints, seed: int | None) -> LeftoverResult:
    """theme_leftovers for one project's points."""
    clustering = discover_themes(
        points.vectors,
        seed=seed,
        population=count_points(scope.embedding_model, scope.items()),
        owners=points.item_ids,
        # A new theme is too broad by its share of all the feedback, not of the leftovers.
        population_items=count_embedded_items(scope.embedding_model, scope.items()),
    )
    clusters = _Clusters.of(points, clustering)
    with transaction.atomic():
        themes = _themes_for_clusters({}, clusters, clustering, points.vectors, scope)
        _set_parents(themes, clusters)
        rows = _cluster_assignments(points, clustering.labels, themes)
        # Another run may have assigned some of them meanwhile; its row is as good.
        ThemeAssignment.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        sync_parent_memberships({row.item_id for row in rows})
        refresh_theme_stats([theme.pk for theme in themes.values()])
    assigned = len({row.item_id for row in rows})
    return LeftoverResult(unthemed=points.items, themes=len(themes), assigned=assigned)


def _assignable_centres(scope: ThemeScope) -> tuple[list[int], np.ndarray]:
    """Return the centres new items are compared with, and for each the live theme an item
    nearest it joins: every live theme's parts' centres (its own where it has no parts),
    and each merged-away theme's for the theme it was merged into. A broad theme is joined
    through its sub-themes (sync_parent_memberships), never directly."""
    specific = scope.leaves()
    loaded = ("id", "centroid", "part_centroids")
    themes = list(specific.only(*loaded))
    themes += Theme.objects.filter(merged_into__in=specific).only(*loaded, "merged_into_id")
    if not themes:
        return [], np.zeros((0, 0), dtype="<f4")
    centres = [theme.part_centroid_arrays() for theme in themes]
    theme_ids = [
        theme.merged_into_id or theme.pk
        for theme, rows in zip(themes, centres, strict=True)
        for _ in range(len(rows))
    ]
    return theme_ids, np.vstack(centres)


def refresh_theme_stats(theme_ids: Collection[int]) -> None:
    """Store each theme's size and the dates of its first and last items."""
    stats = (
        ThemeAssignment.objects.filter(theme_id__in=theme_ids)
        .values("theme_id")
        .annotate(
            size=Count("item_id"),
            first=Min("item__created_at"),
            last=Max("item__created_at"),
        )
    )
    found: dict[int, dict[str, Any]] = {row["theme_id"]: dict(row) for row in stats}
    themes = list(Theme.objects.filter(pk__in=theme_ids))
    for theme in themes:
        row = found.get(theme.pk, {"size": 0, "first": None, "last": None})
        theme.size, theme.first_seen_at, theme.last_seen_at = row["size"], row["first"], row["last"]
    Theme.objects.bulk_update(themes, ["size", "first_seen_at", "last_seen_at"])


def move_item(item: FeedbackItem, theme: Theme, user: User | None) -> ThemeAssignment:
    """Put an item in a theme, and in that theme alone, because a person said so;
    re-clustering keeps it there."""
    previous = set(item.theme_assignments.values_list("theme_id", flat=True))
    centroid = theme.centroid_array()
    _, vectors = item_vectors(FeedbackItem.objects.filter(pk=item.pk), theme.embedding_model)
    similarity = float(vectors[0] @ centroid) if len(vectors) else 0.0
    item.theme_assignments.exclude(theme=theme).delete()
    assignment, _ = ThemeAssignment.objects.update_or_create(
        item=item,
        theme=theme,
        defaults={
            "similarity": similarity,
            "unit_start": None,
            "unit_end": None,
            "method": AssignmentMethod.PERSON,
            "assigned_by": user,
            # In it whole now: the item's own sentiment counts.
            "sentiment": "",
            "sentiment_by_person": False,
        },
    )
    parents = sync_parent_memberships([item.pk])
    refresh_theme_stats(previous | {theme.pk} | parents)
    return assignment


def sync_parent_memberships(item_ids: Collection[int]) -> set[int]:
    """Put each item in the broad themes (Theme.parent, and theirs up the hierarchy) of
    every theme it is in, quoting what puts it in that sub-theme (the nearest, where it is
    in several), and take it out of the broad themes none of its themes is part of any
    more; a person's assignment is never touched. Return the broad themes whose items
    changed."""
    hierarchy = Theme.objects.hierarchy()
    ids = sorted(item_ids)
    changed: set[int] = set()
    for start in range(0, len(ids), ITEM_BATCH_SIZE):
        rows = list(
            ThemeAssignment.objects.filter(item_id__in=ids[start : start + ITEM_BATCH_SIZE])
        )
        wanted = _through_sub_themes(rows, hierarchy)
        held = {(row.item_id, row.theme_id): row for row in rows}
        stale = [
            row
            for key, row in held.items()
            if row.method == AssignmentMethod.PARENT and key not in wanted
        ]
        ThemeAssignment.objects.filter(pk__in=[row.pk for row in stale]).delete()
        new = [row for key, row in wanted.items() if key not in held]
        # Another writer may have added some meanwhile; its row is the same copy.
        ThemeAssignment.objects.bulk_create(new, ignore_conflicts=True)
        _bring_up_to_date(held, wanted)
        changed |= {row.theme_id for row in stale + new}
    return changed


# What a broad theme's assignment copies from its sub-theme's.
COPIED_FIELDS = ("similarity", "unit_start", "unit_end", "sentiment", "sentiment_by_person")


def _bring_up_to_date(
    held: dict[tuple[int, int], ThemeAssignment], wanted: dict[tuple[int, int], ThemeAssignment]
) -> None:
    """Copy again what a sub-theme's assignment says into the broad theme's where it
    changed (a corrected sentiment, a move to a nearer sub-theme)."""
    outdated = []
    for key, copy in wanted.items():
        row = held.get(key)
        if row is None or row.method != AssignmentMethod.PARENT:
            continue
        if any(getattr(row, name) != getattr(copy, name) for name in COPIED_FIELDS):
            for name in COPIED_FIELDS:
                setattr(row, name, getattr(copy, name))
            outdated.append(row)
    ThemeAssignment.objects.bulk_update(outdated, list(COPIED_FIELDS))


def _through_sub_themes(
    rows: list[ThemeAssignment], hierarchy: ThemeHierarchy
) -> dict[tuple[int, int], ThemeAssignment]:
    """The assignment to a broad theme that each (item, broad theme) should have: a copy of
    the item's nearest assignment to one of its sub-themes."""
    wanted: dict[tuple[int, int], ThemeAssignment] = {}
    for row in rows:
        if row.method == AssignmentMethod.PARENT:
            continue
        for broad in hierarchy.above(row.theme_id):
            key = (row.item_id, broad)
            if key in wanted and wanted[key].similarity >= row.similarity:
                continue
            copied = {name: getattr(row, name) for name in COPIED_FIELDS}
            wanted[key] = ThemeAssignment(
                item_id=row.item_id, theme_id=broad, method=AssignmentMethod.PARENT, **copied
            )
    return wanted
