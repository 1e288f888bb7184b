"""The sentiment stage: each item's sentiment (negative, neutral or positive).

Measured in docs/research/sentiment.md, and built the same way:
1. The language model scores the three labels after a few-shot prompt (raw scores stored).
2. The raw scores are calibrated: divided by a prior that stands for the small base model's
   bias (it says "negative" far too readily and "neutral" almost never). Which prior, if
   any, is chosen per source on its star ratings and corrections where it has 30 or more,
   else the model's scores of texts that say nothing (fitting.choose_calibration).
3. The source's star ratings (insights.pipeline.sentiment.ratings), every person's
   correction and the items the calibrated model is surest of, per class, train a logistic
   regression on the items' embeddings.
4. An item's sentiment sums the log-probabilities of both. With 30 or more corrections and
   ratings, cross-validation on them chooses between the calibrated model alone, that sum
   (and its weight), and a combination learned from them.

Each source is fitted on its own items: what another source holds, its mix of sentiment or
its ratings, never changes this source's predictions.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import zip_longest

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.people import signed_in_person
from ingestion.models import DataSource, FeedbackItem
from insights.local_models import model_version
from insights.models import ItemSentiment, ModelVersion, SentimentClassifier, ThemeAssignment
from insights.pipeline.embedding import embed_items, item_vectors
from insights.pipeline.sentiment.fitting import (
    FIT_SAMPLE_SIZE,
    classifier_probabilities,
    fit_sentiment,
    predict_distributions,
)
from insights.pipeline.sentiment.prompt import (
    LABELS,
    SENTIMENT_PROMPT_VERSION,
    FeedbackScores,
    content_free_scores,
    model_calls,
    score_feedback,
)
from insights.pipeline.sentiment.ratings import RatingBounds, rating_labels
from llm.interfaces import LabelScorer, TextEmbedder

Progress = Callable[[int, int], None]

# Items a database write: progress is saved and reported this often.
SCORE_BATCH_SIZE = 50
# Items a prediction batch: keeps id lists well inside SQLite's limit on query parameters.
PREDICT_BATCH_SIZE = 1000
# How an item's feature logits are stored: half precision keeps 1,536 of them in 3 KB, and
# logits need no more than three significant digits to be standardised and weighed.
FEATURE_STORAGE = np.float16


class SentimentError(ValueError):
    """A sentiment operation that cannot be done as asked."""


# -- the database stage ------------------------------------------------------------------


def _item_ids(items: Iterable[int] | QuerySet[FeedbackItem]) -> list[int]:
    if isinstance(items, QuerySet):
        return list(items.values_list("pk", flat=True))
    return list(items)


def score_with_llm(
    item_ids: Iterable[int], llm: LabelScorer, on_progress: Progress | None = None
) -> int:
    """Store the language model's raw label scores for the items that have none from this
    model file and prompt version; return how many were scored. on_progress(done, total)
    follows each batch of items."""
    version = model_version(llm)
    ids = list(item_ids)
    scored = 0
    # Batches keep each query's id list short and save work as it goes.
    for start in range(0, len(ids), SCORE_BATCH_SIZE):
        batch = _unscored(ids[start : start + SCORE_BATCH_SIZE], version)
        scores = score_feedback([text for _, text in batch], llm)
        _store_scores([pk for pk, _ in batch], scores, version)
        scored += len(batch)
        if on_progress:
            on_progress(min(start + SCORE_BATCH_SIZE, len(ids)), len(ids))
    return scored


def _unscored(item_ids: list[int], version: ModelVersion) -> list[tuple[int, str]]:
    """Return (id, text) of the items without scores from this model and prompt."""
    current = Q(sentiment__llm_model=version, sentiment__prompt_version=SENTIMENT_PROMPT_VERSION)
    items = FeedbackItem.objects.filter(pk__in=item_ids).exclude(current).order_by("pk")
    return list(items.values_list("pk", "text"))


def _store_scores(item_ids: list[int], scores: list[FeedbackScores], version: ModelVersion) -> None:
    now = timezone.now()
    rows = [
        ItemSentiment(
            item_id=pk,
            llm_scores=_by_label(found.item),
            unit_scores=[[unit.start, unit.end, _by_label(raw)] for unit, raw in found.units],
            llm_features=found.features.astype(FEATURE_STORAGE).tobytes(),
            llm_model=version,
            prompt_version=SENTIMENT_PROMPT_VERSION,
            scored_at=now,
        )
        for pk, found in zip(item_ids, scores, strict=True)
    ]
    # Re-scoring keeps the prediction until predict_sentiment redoes it, and never
    # touches a person's correction.
    ItemSentiment.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=[
            "llm_scores",
            "unit_scores",
            "llm_features",
            "llm_model",
            "prompt_version",
            "scored_at",
        ],
    )


def _by_label(raw: np.ndarray) -> dict[str, float]:
    return dict(zip(LABELS, raw.round(6).tolist(), strict=True))


@dataclass(frozen=True)
class UnitSentiment:
    text: str
    label: str
    confidence: float


def unit_sentiments(text: str, sentiment: ItemSentiment) -> list[UnitSentiment]:
    """What the language model reads in each unit of a long item, calibrated as the item's
    classifier calibrates it (raw without one); empty for a one-unit item."""
    if not sentiment.unit_scores:
        return []
    distributions = _unit_distributions(sentiment, sentiment.classifier)
    return [
        UnitSentiment(text[start:end], LABELS[int(row.argmax())], float(row.max()))
        for (start, end, _), row in zip(sentiment.unit_scores, distributions, strict=True)
    ]


def _unit_distributions(
    sentiment: ItemSentiment, classifier: SentimentClassifier | None
) -> np.ndarray:
    """The item's units' label distributions (rows in unit_scores' order), calibrated by the
    classifier (raw without one)."""
    raw = np.array([[scores[label] for label in LABELS] for _, _, scores in sentiment.unit_scores])
    return predict_distributions(raw, None, classifier) if classifier else raw


def read_theme_sentiments(item_ids: Iterable[int]) -> int:
    """Set the sentiment toward each theme of the items' assignments that quote a unit:
    what the language model reads in that unit, calibrated by the item's classifier, as the
    item page shows it (unit_sentiments); blank while the unit has no scores, so that the
    item's own label counts. A person's correction stays. Return how many assignments
    changed."""
    ids = sorted(set(item_ids))
    classifiers: dict[int, SentimentClassifier] = {}
    changed = 0
    for start in range(0, len(ids), PREDICT_BATCH_SIZE):
        batch = ids[start : start + PREDICT_BATCH_SIZE]
        assignments = list(
            ThemeAssignment.objects.filter(
                item_id__in=batch, unit_start__isnull=False, sentiment_by_person=False
            ).only("pk", "item_id", "unit_start", "unit_end", "sentiment")
        )
        if not assignments:
            continue  # short items only: no unit scores to read
        # Only the items quoted by a unit: most items are short and have no unit scores.
        readings = _unit_labels(sorted({a.item_id for a in assignments}), classifiers)
        stale: dict[str, list[int]] = {}
        for assignment in assignments:
            unit = (assignment.item_id, assignment.unit_start, assignment.unit_end)
            label = readings.get(unit, "")
            if assignment.sentiment != label:
                stale.setdefault(label, []).append(assignment.pk)
        for label, pks in stale.items():
            # Filtered again: a person's correction made meanwhile stays.
            corrected_meanwhile = Q(sentiment_by_person=True)
            rows = ThemeAssignment.objects.filter(pk__in=pks).exclude(corrected_meanwhile)
            changed += rows.update(sentiment=label)
    return changed


# A unit of an item: (item id, start, end) as an assignment quotes it.
UnitKey = tuple[int, int | None, int | None]


def _unit_labels(
    item_ids: list[int], classifiers: dict[int, SentimentClassifier]
) -> dict[UnitKey, str]:
    """The label of each scored unit of the items, by (item id, start, end); classifiers
    caches the rows fitted (each holds a few thousand coefficients)."""
    rows = ItemSentiment.objects.filter(item_id__in=item_ids).only(
        "item_id", "unit_scores", "classifier_id"
    )
    labels: dict[UnitKey, str] = {}
    for row in rows:
        if not row.unit_scores:
            continue
        classifier = None
        if row.classifier_id is not None:
            if row.classifier_id not in classifiers:
                classifiers[row.classifier_id] = SentimentClassifier.objects.get(
                    pk=row.classifier_id
                )
            classifier = classifiers[row.classifier_id]
        distributions = _unit_distributions(row, classifier)
        for (start, end, _), distribution in zip(row.unit_scores, distributions, strict=True):
            labels[(row.item_id, start, end)] = LABELS[int(distribution.argmax())]
    return labels


def read_pending_theme_sentiments() -> int:
    """read_theme_sentiments for the items with an assignment that quotes a unit and has no
    sentiment toward its theme yet (new since their sentiment was predicted, or not scored
    then); return how many assignments changed."""
    pending = ThemeAssignment.objects.filter(unit_start__isnull=False, sentiment="")
    scored = pending.filter(
        item__sentiment__classifier__isnull=False, item__sentiment__llm_model__isnull=False
    )
    return read_theme_sentiments(scored.values_list("item_id", flat=True).distinct())


def _scored_rows(item_ids: list[int], version: ModelVersion) -> QuerySet[ItemSentiment]:
    return ItemSentiment.objects.filter(
        item_id__in=item_ids, llm_model=version, prompt_version=SENTIMENT_PROMPT_VERSION
    ).order_by("item_id")


def _raw_matrix(rows: Sequence[ItemSentiment]) -> np.ndarray:
    scores = [[row.llm_scores[label] for label in LABELS] for row in rows]
    return np.array(scores).reshape(-1, len(LABELS))


def _feature_matrix(rows: Sequence[ItemSentiment]) -> np.ndarray | None:
    """The rows' feature logits, one row each (None: a row has none, so the classifier
    learns from the embeddings alone)."""
    stored = [bytes(row.llm_features) for row in rows]
    if not stored or not all(stored) or len({len(values) for values in stored}) > 1:
        return None
    values = np.frombuffer(b"".join(stored), dtype=FEATURE_STORAGE)
    return values.reshape(len(stored), -1).astype(np.float32)


def _vectors_for(ids: list[int], embedder: TextEmbedder | None) -> np.ndarray | None:
    """Return the items' embeddings in the order of ids, embedding any that lack one
    (None without an embedder)."""
    if embedder is None:
        return None
    embed_items(ids, embedder)
    found, matrix = item_vectors(FeedbackItem.objects.filter(pk__in=ids), embedder.name)
    if found != sorted(ids):
        return None  # an item vanished meanwhile; its siblings are predicted without
    position = {pk: i for i, pk in enumerate(found)}
    return matrix[[position[pk] for pk in ids]]


def fit_sentiment_classifier(
    llm_version: ModelVersion,
    embedder: TextEmbedder,
    source: DataSource,
    content_free: np.ndarray | None = None,
) -> SentimentClassifier:
    """Fit and store the calibration and classifier of one source, on its items scored by
    llm_version, with embedder's vectors, and return the stored row. content_free: the
    model's scores of CONTENT_FREE_TEXTS (None: that calibration is not tried)."""
    rows = _fitting_rows(llm_version, source)
    if not rows:
        raise SentimentError("No items have language-model scores yet: score them first.")
    ids = [row.item_id for row in rows]
    corrected = np.array([LABELS.index(row.corrected) if row.corrected else -1 for row in rows])
    fitted = fit_sentiment(
        _raw_matrix(rows),
        _vectors_for(ids, embedder),
        corrected,
        features=_feature_matrix(rows),
        rated=_rating_labels(source, ids),
        content_free=content_free,
    )
    return SentimentClassifier.objects.create(
        source=source,
        llm_model=llm_version,
        prompt_version=SENTIMENT_PROMPT_VERSION,
        embedding_model=embedder.name,
        prior=dict(zip(LABELS, fitted.prior.tolist(), strict=True)),
        calibration=fitted.calibration,
        classifier=fitted.classifier,
        pseudo_labels=fitted.pseudo_labels,
        corrections=fitted.corrections,
        ratings=fitted.ratings,
        llm_accuracy=fitted.llm_accuracy,
        combined_accuracy=fitted.combined_accuracy,
        uses_classifier=fitted.uses_classifier,
        scored_items=_scored_in(llm_version, source).count(),
    )


def _scored_in(version: ModelVersion, source: DataSource | int) -> QuerySet[ItemSentiment]:
    """The source's items scored by this model file and prompt version."""
    return ItemSentiment.objects.filter(
        item__source=source, llm_model=version, prompt_version=SENTIMENT_PROMPT_VERSION
    )


def rating_bounds(source: DataSource) -> RatingBounds | None:
    """How the source's ratings read as sentiment: its own bounds, or its scale's (None:
    they cannot be read, see insights.pipeline.sentiment.ratings)."""
    return RatingBounds.for_scale(
        source.scale_of_ratings, source.rating_negative_max, source.rating_positive_min
    )


def _rating_labels(source: DataSource, item_ids: list[int]) -> np.ndarray:
    """What each item's rating reads as (a LABELS index; -1 without a rating)."""
    ratings = dict(FeedbackItem.objects.filter(pk__in=item_ids).values_list("pk", "rating"))
    values = np.array([np.nan if ratings[pk] is None else ratings[pk] for pk in item_ids])
    return rating_labels(rating_bounds(source), values)


def _fitting_rows(version: ModelVersion, source: DataSource) -> list[ItemSentiment]:
    """Return a fixed sample of up to FIT_SAMPLE_SIZE of the source's scored items and every
    corrected one, in id order."""
    scored = _scored_in(version, source)
    uncorrected = list(scored.filter(corrected="").order_by("item_id").values_list("pk", flat=True))
    rng = np.random.default_rng(0)
    sample = rng.permutation(uncorrected)[:FIT_SAMPLE_SIZE].tolist() if uncorrected else []
    return list(scored.filter(Q(pk__in=sample) | ~Q(corrected="")).order_by("item_id"))


def predict_sentiment(
    item_ids: Iterable[int] | QuerySet[FeedbackItem],
    classifier: SentimentClassifier,
    embedder: TextEmbedder,
) -> int:
    """Write each item's predicted sentiment, confidence and probabilities under the
    classifier; return how many items were predicted. Items the language model scored use
    its scores (with the embedding classifier, as fitted); items it has not scored yet
    (for this model and prompt) are predicted from their embeddings alone, where the
    classifier has been fitted (with embedder's vectors, the classifier's embedding model).
    Corrections are never touched."""
    ids = _item_ids(item_ids)
    vectors_from = embedder if classifier.classifier else None
    predicted = 0
    for start in range(0, len(ids), PREDICT_BATCH_SIZE):
        batch = ids[start : start + PREDICT_BATCH_SIZE]
        rows = list(_scored_rows(batch, classifier.llm_model))
        if rows:
            use_vectors = vectors_from if classifier.uses_classifier else None
            vectors = _vectors_for([row.item_id for row in rows], use_vectors)
            features = _feature_matrix(rows)
            distributions = predict_distributions(_raw_matrix(rows), vectors, classifier, features)
            _store_predictions(rows, distributions, classifier.pk)
        unscored = sorted(set(batch) - {row.item_id for row in rows})
        if vectors_from and unscored:
            predicted += _predict_from_embeddings(unscored, classifier, vectors_from)
        predicted += len(rows)
    # The calibration may have changed: so may what each unit reads toward its theme.
    read_theme_sentiments(ids)
    return predicted


def _predict_from_embeddings(
    item_ids: list[int], classifier: SentimentClassifier, embedder: TextEmbedder
) -> int:
    vectors = _vectors_for(item_ids, embedder)
    if vectors is None:
        return 0
    ItemSentiment.objects.bulk_create(
        [ItemSentiment(item_id=pk) for pk in item_ids], ignore_conflicts=True
    )
    rows = list(ItemSentiment.objects.filter(item_id__in=item_ids).order_by("item_id"))
    distributions = classifier_probabilities(classifier.classifier, vectors)
    _store_predictions(rows, distributions, classifier.pk)
    return len(rows)


def _store_predictions(
    rows: list[ItemSentiment], distributions: np.ndarray, classifier_id: int
) -> None:
    for row, distribution in zip(rows, distributions, strict=True):
        row.predicted = LABELS[int(distribution.argmax())]
        row.confidence = float(distribution.max())
        row.probabilities = dict(zip(LABELS, distribution.round(4).tolist(), strict=True))
        row.classifier_id = classifier_id
    # An upsert of the loaded rows: the rows exist, so only the named fields change. At
    # 10,000 rows it took a twentieth of bulk_update's time (a CASE per field and row).
    ItemSentiment.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=["predicted", "confidence", "probabilities", "classifier"],
    )


def check_label(label: str) -> None:
    """Refuse what is not a sentiment label (a person's correction names one)."""
    if label not in LABELS:
        raise SentimentError(f"{label!r} is not a sentiment: use one of {', '.join(LABELS)}.")


def correct_sentiment(
    item: FeedbackItem, label: str, user: AbstractBaseUser | None
) -> ItemSentiment:
    """Record a person's sentiment for an item, which wins over any prediction from now
    on; return the item's sentiment row."""
    check_label(label)
    with transaction.atomic():
        sentiment = ItemSentiment.objects.select_for_update().filter(item=item).first()
        if sentiment is None:
            # The row needs the model that scored it; items get one when analysed.
            raise SentimentError("This item has not been analysed yet: run the analysis first.")
        sentiment.corrected = label
        sentiment.corrected_by = signed_in_person(user)
        sentiment.corrected_at = timezone.now()
        sentiment.save(update_fields=["corrected", "corrected_by", "corrected_at"])
    return sentiment


def analyse_sentiment(
    items: Iterable[int] | QuerySet[FeedbackItem],
    llm: LabelScorer,
    embedder: TextEmbedder,
    on_progress: Progress | None = None,
) -> int:
    """Score items with the language model (at most SENTIMENT_LLM_CALLS_PER_RUN calls a run),
    refit each of their sources' classifiers when it is due, and bring every prediction of
    those sources up to date; return how many items the language model scored.
    on_progress(done, total) follows the scoring, the slow part."""
    if not isinstance(items, QuerySet):
        items = FeedbackItem.objects.filter(pk__in=list(items))
    scored = score_with_llm(items_to_score(items, llm), llm, on_progress)
    predict_from_scores(items, llm, embedder)
    return scored


def items_to_score(items: QuerySet[FeedbackItem], llm: LabelScorer) -> list[int]:
    """The items the language model scores this run (see _items_to_score)."""
    return _items_to_score(items, model_version(llm))


def predict_from_scores(
    items: QuerySet[FeedbackItem], llm: LabelScorer, embedder: TextEmbedder
) -> None:
    """Refit the classifier of each source of items when it is due, from the language
    model's stored scores, and bring every prediction of those sources up to date. An
    analysis run does the second in chunks (items_to_predict, then predict_items on each)."""
    fit_due_classifiers(items, llm, embedder)
    predict_items(items_to_predict(items, llm, embedder), llm, embedder)


def fit_due_classifiers(
    items: QuerySet[FeedbackItem], llm: LabelScorer, embedder: TextEmbedder
) -> int:
    """Refit the classifier of each source of items when it is due (or has none), from the
    language model's stored scores; return how many were fitted."""
    version = model_version(llm)
    content_free: np.ndarray | None = None
    fitted = 0
    for source in _sources_of(items):
        classifier = _latest_classifier(version, embedder.name, source)
        if classifier is None or _refit_is_due(classifier):
            if not _scored_in(version, source).exists():
                continue  # nothing scored yet: nothing to fit or predict from
            if content_free is None:
                content_free = content_free_scores(llm)
            # Fitted on every scored item of the source, not only these: the calibration and
            # the pseudo-labels need hundreds of items, and a new batch may be a handful.
            fit_sentiment_classifier(version, embedder, source, content_free)
            fitted += 1
    return fitted


def items_to_predict(
    items: QuerySet[FeedbackItem], llm: LabelScorer, embedder: TextEmbedder
) -> list[int]:
    """The ids, in order, of the items of items' sources whose prediction is not their
    source's latest classifier's: those of items never predicted, and every item a newer
    classifier has not predicted yet."""
    version = model_version(llm)
    due: set[int] = set()
    for source in _sources_of(items):
        classifier = _latest_classifier(version, embedder.name, source)
        if classifier is None:
            continue
        in_source = ItemSentiment.objects.filter(item__source=source)
        due.update(in_source.exclude(classifier=classifier).values_list("item_id", flat=True))
        new = items.filter(source=source, sentiment__isnull=True)
        due.update(new.values_list("pk", flat=True))
    return sorted(due)


def predict_items(item_ids: Sequence[int], llm: LabelScorer, embedder: TextEmbedder) -> int:
    """Predict each item's sentiment with its source's latest classifier (predict_sentiment);
    return how many were predicted."""
    version = model_version(llm)
    by_source: dict[int, list[int]] = {}
    for source_id, pk in FeedbackItem.objects.filter(pk__in=list(item_ids)).values_list(
        "source_id", "pk"
    ):
        by_source.setdefault(source_id, []).append(pk)
    predicted = 0
    for source_id, ids in sorted(by_source.items()):
        classifier = _latest_classifier(version, embedder.name, source_id)
        if classifier is not None:
            predicted += predict_sentiment(sorted(ids), classifier, embedder)
    return predicted


def _sources_of(items: QuerySet[FeedbackItem]) -> QuerySet[DataSource]:
    return DataSource.objects.filter(items__in=items).distinct().order_by("pk")


def _items_to_score(items: QuerySet[FeedbackItem], version: ModelVersion) -> list[int]:
    """Return the items the language model scores this run, taken from their sources in
    turn; of each source, those a person corrected first (corrections train the classifier
    only with scores), then a fixed random sample of its others (seeded by the source, so
    that what one source holds never changes which of another's are scored). Each source's
    calibration and pseudo-labels see a fair mix of its own items, and a small source is
    scored in the first run too, so that it gets a classifier of its own."""
    current = Q(sentiment__llm_model=version, sentiment__prompt_version=SENTIMENT_PROMPT_VERSION)
    unscored = items.exclude(current)
    corrected = set(unscored.filter(sentiment__corrected__gt="").values_list("pk", flat=True))
    by_source: dict[int, list[int]] = {}
    for source_id, pk in sorted(unscored.values_list("source_id", "pk")):
        by_source.setdefault(source_id, []).append(pk)
    queues = []
    for source_id, ids in sorted(by_source.items()):
        others = [pk for pk in ids if pk not in corrected]
        sample = np.random.default_rng(source_id).permutation(others).tolist()
        queues.append([pk for pk in ids if pk in corrected] + sample)
    chosen = [pk for turn in zip_longest(*queues) for pk in turn if pk is not None]
    budget = settings.SENTIMENT_LLM_CALLS_PER_RUN
    return sorted(_within_budget(chosen, budget) if budget else chosen)


def _within_budget(item_ids: list[int], budget: int) -> list[int]:
    """Return the first items whose language-model calls (prompt.model_calls) add up to at
    most budget; the first item always, however long."""
    taken: list[int] = []
    calls = 0
    for start in range(0, len(item_ids), PREDICT_BATCH_SIZE):
        batch = item_ids[start : start + PREDICT_BATCH_SIZE]
        texts = dict(FeedbackItem.objects.filter(pk__in=batch).values_list("pk", "text"))
        for pk in batch:
            calls += model_calls(texts[pk])
            if calls > budget and taken:
                return taken
            taken.append(pk)
    return taken


# A classifier is fitted again when the scored items have grown by this share since.
REFIT_GROWTH = 0.2


def _latest_classifier(
    version: ModelVersion, embedding_model: str, source: DataSource | int
) -> SentimentClassifier | None:
    return (
        SentimentClassifier.objects.filter(
            source=source,
            llm_model=version,
            prompt_version=SENTIMENT_PROMPT_VERSION,
            embedding_model=embedding_model,
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def _refit_is_due(classifier: SentimentClassifier) -> bool:
    """Whether a person corrected an item of the classifier's source since the fit, or its
    scored items have grown by more than REFIT_GROWTH: refitting and predicting everything
    again on each small batch would cost more than it changes."""
    if classifier.source_id is None:
        return True  # fitted over every source at once, before sources were kept apart
    scored = _scored_in(classifier.llm_model, classifier.source_id)
    if scored.filter(corrected_at__gt=classifier.created_at).exists():
        return True
    return scored.count() > (1 + REFIT_GROWTH) * classifier.scored_items
