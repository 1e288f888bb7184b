"""The sentiment stage: each item's sentiment (negative, neutral or positive).

Measured in docs/research/sentiment.md, and built the same way:
1. The language model scores the three labels after a few-shot prompt (raw scores stored).
2. The raw scores are divided by their mean over the customer's own items (the
   "unlabeled prior"): the small base model says "negative" far too readily and "neutral"
   almost never, and this calibration fixes most of that without any labels.
3. The items the calibrated model is surest of, per class, and every person's correction
   train a logistic regression on the items' embeddings.
4. An item's sentiment sums the log-probabilities of both. With 30 or more corrections,
   cross-validation on them chooses between the calibrated model alone, that sum (and its
   weight), and a combination learned from the corrections.

Star ratings are not used: they stay on FeedbackItem.rating and never replace this.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold

from ingestion.models import FeedbackItem
from insights.embedding import embed_items, item_vectors
from insights.local_models import configured_embedder, configured_llm, model_version
from insights.models import ItemSentiment, ModelVersion, Sentiment, SentimentClassifier
from llm.embeddings import Embedder
from llm.generation import LocalLLM
from llm.prompts import FewShotPrompt

Progress = Callable[[int, int], None]

# Change the version with any change to the prompt below: stored scores are redone.
SENTIMENT_PROMPT_VERSION = "sentiment-fewshot9-v1"
LABELS: tuple[str, ...] = tuple(Sentiment.values)  # negative, neutral, positive

SENTIMENT_INSTRUCTION = (
    "Label the sentiment of each piece of customer feedback as negative, neutral or "
    "positive. Questions and plain statements of fact are neutral. Answer with one word."
)
SENTIMENT_CUE = "Feedback: {text}\nSentiment:"
# Hand-written, not taken from any data set: reviews, tickets and social posts, three per
# class, the neutral ones questions and plain statements. Interleaved so that no label
# dominates the end of the prompt; no instruction line for base models (it lowered
# macro-F1 in the research).
SENTIMENT_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("The app crashes every time I open the camera. Useless since the update.", "negative"),
    ("@acme thanks for the quick refund, your support team is amazing!", "positive"),
    ("How do I export my transactions to a spreadsheet?", "neutral"),
    ("I was charged twice for my order and nobody has answered my emails in a week.", "negative"),
    ("Love the new dark mode, everything feels faster and cleaner.", "positive"),
    ("I ordered the blue one on Monday and it is due on Friday.", "neutral"),
    ("@acme 2 hours on hold and still no answer. Ridiculous.", "negative"),
    ("@acme do you ship to Canada?", "neutral"),
    ("Great product, the agent fixed my problem in five minutes.", "positive"),
)
# Tokens never outnumber the UTF-8 bytes of a text (byte fallback is the worst case), so
# this cap, plus the ~200-token examples, always fits the 2,048-token context. 1,000 bytes
# is ~170 English words: longer feedback is judged by its beginning.
MAX_TEXT_BYTES = 1000

# The research kept the 150 surest items per class out of 2,000 scored: more, noisier
# pseudo-labels did worse. Smaller data sets keep the same share, but at least a few.
PSEUDO_LABELS_PER_CLASS = 150
PSEUDO_LABELS_FULL_AT = 2000
MIN_PSEUDO_LABELS_PER_CLASS = 4
# Below this, a classifier on the embeddings is not worth fitting.
MIN_ITEMS_FOR_CLASSIFIER = 20
# Enough items to estimate the prior well (measured: 150 already did). Over a handful of
# items the mean says more about those items than about the model: no calibration then.
PRIOR_SAMPLE_SIZE = 300
MIN_ITEMS_FOR_PRIOR = 20
# Fitting looks at a fixed sample of this many scored items (plus every corrected one):
# the size the research measured, and it keeps fitting fast on a large database.
FIT_SAMPLE_SIZE = 2000
# With fewer corrections, cross-validated accuracies are too noisy to choose by.
MIN_CORRECTIONS_TO_VALIDATE = 30
CROSS_VALIDATION_FOLDS = 5
# Weights of the language model's log-probabilities against the classifier's, tried by
# cross-validation when there are enough corrections (the research chose 0.25-1.5).
LLM_WEIGHTS = (0.5, 1.0, 2.0)
# Items a database write: progress is saved and reported this often.
SCORE_BATCH_SIZE = 50
# Items a prediction batch: keeps id lists well inside SQLite's limit on query parameters.
PREDICT_BATCH_SIZE = 1000


class SentimentError(ValueError):
    """A sentiment operation that cannot be done as asked."""


# -- the prompt --------------------------------------------------------------------------


def feedback_text(text: str) -> str:
    """Return the text as the prompt shows it: on one line, cut to MAX_TEXT_BYTES."""
    one_line = " ".join(text.split())
    # Cut on bytes, not characters: dropping a half character is harmless.
    return one_line.encode()[:MAX_TEXT_BYTES].decode(errors="ignore")


def sentiment_prompt(text: str) -> FewShotPrompt:
    """Return the few-shot prompt for one item; the examples come first, so the model
    evaluates them once for all items."""
    return FewShotPrompt(
        instruction=SENTIMENT_INSTRUCTION,
        examples=tuple(
            (SENTIMENT_CUE.format(text=example), f" {label}")
            for example, label in SENTIMENT_EXAMPLES
        ),
        query=SENTIMENT_CUE.format(text=feedback_text(text)),
    )


def score_texts(texts: Sequence[str], llm: LocalLLM) -> np.ndarray:
    """Return the raw label probabilities, one row per text, columns in LABELS order."""
    rows = [llm.label_probabilities(llm.render(sentiment_prompt(t)), LABELS) for t in texts]
    return np.array([[row[label] for label in LABELS] for row in rows]).reshape(-1, len(LABELS))


# -- calibration, pseudo-labels, classifier (plain arrays) -------------------------------


def fit_prior(raw: np.ndarray, sample_size: int = PRIOR_SAMPLE_SIZE) -> np.ndarray:
    """Return the mean raw distribution over up to sample_size rows (a fixed sample), or
    a uniform one (no calibration) for fewer than MIN_ITEMS_FOR_PRIOR rows."""
    if len(raw) < MIN_ITEMS_FOR_PRIOR:
        return np.full(len(LABELS), 1 / len(LABELS))
    rows = np.random.default_rng(0).permutation(len(raw))[:sample_size]
    prior = raw[rows].mean(axis=0)
    return prior / prior.sum()


def calibrate(raw: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Return the raw distributions divided by the prior, renormalised."""
    scaled = raw / prior
    return scaled / scaled.sum(axis=1, keepdims=True)


def pseudo_labels_per_class(n_items: int) -> int:
    """Return how many of the surest items of each class become training labels."""
    scaled = round(PSEUDO_LABELS_PER_CLASS * n_items / PSEUDO_LABELS_FULL_AT)
    return min(PSEUDO_LABELS_PER_CLASS, max(MIN_PSEUDO_LABELS_PER_CLASS, scaled))


def pseudo_labels(calibrated: np.ndarray, per_class: int) -> np.ndarray:
    """Return a label index per row: the class for the per_class rows predicted most
    confidently as it, -1 for the others."""
    labels = np.full(len(calibrated), -1)
    predicted = calibrated.argmax(axis=1)
    for label in range(calibrated.shape[1]):
        rows = np.flatnonzero(predicted == label)
        surest = rows[np.argsort(-calibrated[rows, label], kind="stable")[:per_class]]
        labels[surest] = label
    return labels


def fit_logistic(vectors: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> dict:
    """Return a class-balanced logistic regression as JSON: classes, coef, intercept."""
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    model.fit(vectors, labels, sample_weight=weights)
    return {
        "classes": [LABELS[i] for i in model.classes_],
        "coef": model.coef_.tolist(),
        "intercept": model.intercept_.tolist(),
    }


def logistic_probabilities(classifier: dict, vectors: np.ndarray) -> np.ndarray:
    """Return the stored classifier's probabilities, columns in LABELS order."""
    logits = vectors @ np.asarray(classifier["coef"]).T + np.asarray(classifier["intercept"])
    order = [classifier["classes"].index(label) for label in LABELS]
    return _softmax(logits[:, order])


def fuse(calibrated: np.ndarray, classifier_probs: np.ndarray, llm_weight: float) -> np.ndarray:
    """Return the normalised product of both distributions (a sum of log-probabilities)."""
    tiny = np.finfo(np.float64).tiny  # a zero probability must not make -inf for all
    logits = np.log(classifier_probs + tiny) + llm_weight * np.log(calibrated + tiny)
    return _softmax(logits)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class SentimentFit:
    """What fitting found: everything a SentimentClassifier row stores."""

    prior: np.ndarray
    classifier: dict  # empty: the calibrated language model alone
    pseudo_labels: int
    corrections: int
    llm_accuracy: float | None = None
    combined_accuracy: float | None = None
    uses_classifier: bool = False


def fit_sentiment(
    raw: np.ndarray,
    vectors: np.ndarray | None,
    corrected: np.ndarray,
    correction_weight: float = 1.0,
) -> SentimentFit:
    """Fit the prior and the classifier to one body of items.

    raw: the language model's label probabilities, one row per item; vectors: the items'
    embeddings (None: fit the prior alone); corrected: a label index per item where a
    person corrected it, else -1.
    """
    prior = fit_prior(raw)
    calibrated = calibrate(raw, prior)
    labels = pseudo_labels(calibrated, pseudo_labels_per_class(len(raw)))
    n_pseudo = int(((labels >= 0) & (corrected < 0)).sum())
    n_corrected = int((corrected >= 0).sum())
    labels = np.where(corrected >= 0, corrected, labels)  # a person's label wins
    fitted = SentimentFit(prior, {}, n_pseudo, n_corrected)
    too_few = len(raw) < MIN_ITEMS_FOR_CLASSIFIER or len(set(labels[labels >= 0])) < len(LABELS)
    if vectors is None or too_few:
        return fitted
    weights = np.where(corrected >= 0, correction_weight, 1.0)
    if n_corrected < MIN_CORRECTIONS_TO_VALIDATE:
        # Too few corrections to tell: the research found the combination better.
        classifier = fit_logistic(vectors[labels >= 0], labels[labels >= 0], weights[labels >= 0])
        classifier["llm_weight"] = 1.0
        return SentimentFit(prior, classifier, n_pseudo, n_corrected, uses_classifier=True)
    return _fit_validated(fitted, calibrated, vectors, labels, corrected, weights)


def _fit_validated(
    fitted: SentimentFit,
    calibrated: np.ndarray,
    vectors: np.ndarray,
    labels: np.ndarray,
    corrected: np.ndarray,
    weights: np.ndarray,
) -> SentimentFit:
    """Choose by cross-validation on the corrections between the calibrated language model
    alone, its product with the classifier (and the product's weight), and a combination
    learned from the corrections (stacked)."""
    rows = np.flatnonzero(corrected >= 0)
    truth = corrected[rows]
    held_out = _out_of_fold_probabilities(vectors, labels, rows, weights)
    accuracy = {
        weight: float((fuse(calibrated[rows], held_out, weight).argmax(axis=1) == truth).mean())
        for weight in LLM_WEIGHTS
    }
    llm_weight = max(accuracy, key=lambda weight: (accuracy[weight], -abs(weight - 1)))
    classifier = fit_logistic(vectors[labels >= 0], labels[labels >= 0], weights[labels >= 0])
    classifier["llm_weight"] = llm_weight
    combined_accuracy = accuracy[llm_weight]
    features = stack_features(calibrated[rows], held_out)
    stacked_accuracy = _cross_validated_stack_accuracy(features, truth)
    # Measured on the airline tweets with 300 corrections: macro-F1 0.732 stacked against
    # 0.708 for the product with a chosen weight.
    if stacked_accuracy is not None and stacked_accuracy > combined_accuracy:
        classifier["stack"] = fit_logistic(features, truth, np.ones(len(truth)))
        combined_accuracy = stacked_accuracy
    llm_accuracy = float((calibrated[rows].argmax(axis=1) == truth).mean())
    uses_classifier = combined_accuracy >= llm_accuracy
    return replace(
        fitted,
        classifier=classifier,
        uses_classifier=uses_classifier,
        llm_accuracy=llm_accuracy,
        combined_accuracy=combined_accuracy,
    )


def _out_of_fold_probabilities(
    vectors: np.ndarray, labels: np.ndarray, rows: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Return the classifier's probabilities for the corrected rows, each from a classifier
    fitted without that row's fold of corrections (uniform where a fold cannot fit)."""
    probabilities = np.full((len(rows), len(LABELS)), 1 / len(LABELS))
    for _, held_out in _folds(labels[rows]):
        training = labels >= 0
        training[rows[held_out]] = False
        if len(set(labels[training])) == len(LABELS):
            model = fit_logistic(vectors[training], labels[training], weights[training])
            probabilities[held_out] = logistic_probabilities(model, vectors[rows[held_out]])
    return probabilities


def stack_features(calibrated: np.ndarray, classifier_probs: np.ndarray) -> np.ndarray:
    """Return the inputs of the learned combination: both models' log-probabilities."""
    tiny = np.finfo(np.float64).tiny
    return np.hstack([np.log(calibrated + tiny), np.log(classifier_probs + tiny)])


def _cross_validated_stack_accuracy(features: np.ndarray, truth: np.ndarray) -> float | None:
    """Return the learned combination's held-out accuracy, or None when a class has too
    few corrections for every fold to hold all three."""
    if np.bincount(truth, minlength=len(LABELS)).min() < CROSS_VALIDATION_FOLDS:
        return None
    hits = 0
    for training, held_out in _folds(truth):
        model = fit_logistic(features[training], truth[training], np.ones(len(training)))
        probs = logistic_probabilities(model, features[held_out])
        hits += int((probs.argmax(axis=1) == truth[held_out]).sum())
    return hits / len(truth)


def _folds(truth: np.ndarray) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    # Stratify when every class has a correction in each fold; small classes cannot.
    counts = np.bincount(truth, minlength=len(LABELS))
    if counts.min() >= CROSS_VALIDATION_FOLDS:
        splitter = StratifiedKFold(CROSS_VALIDATION_FOLDS, shuffle=True, random_state=0)
        return splitter.split(truth, truth)
    return KFold(CROSS_VALIDATION_FOLDS, shuffle=True, random_state=0).split(truth)


def predict_distributions(
    raw: np.ndarray, vectors: np.ndarray | None, fitted: SentimentClassifier
) -> np.ndarray:
    """Return each item's sentiment distribution under a fitted classifier; vectors None
    (items without embeddings): the calibrated language model alone."""
    prior = np.array([fitted.prior[label] for label in LABELS])
    calibrated = calibrate(raw, prior)
    if not fitted.uses_classifier or not fitted.classifier or vectors is None:
        return calibrated
    probs = logistic_probabilities(fitted.classifier, vectors)
    if "stack" in fitted.classifier:
        return logistic_probabilities(fitted.classifier["stack"], stack_features(calibrated, probs))
    return fuse(calibrated, probs, fitted.classifier["llm_weight"])


# -- the database stage ------------------------------------------------------------------


def _item_ids(items: Iterable[int] | QuerySet[FeedbackItem]) -> list[int]:
    if isinstance(items, QuerySet):
        return list(items.values_list("pk", flat=True))
    return list(items)


def score_with_llm(
    item_ids: Iterable[int], llm: LocalLLM | None = None, on_progress: Progress | None = None
) -> int:
    """Store the language model's raw label scores for the items that have none from this
    model file and prompt version; return how many were scored. on_progress(done, total)
    follows each batch of items."""
    llm = llm or configured_llm()
    version = model_version(llm)
    ids = list(item_ids)
    scored = 0
    # Batches keep each query's id list short and save work as it goes.
    for start in range(0, len(ids), SCORE_BATCH_SIZE):
        batch = _unscored(ids[start : start + SCORE_BATCH_SIZE], version)
        raw = score_texts([text for _, text in batch], llm)
        _store_scores([pk for pk, _ in batch], raw, version)
        scored += len(batch)
        if on_progress:
            on_progress(min(start + SCORE_BATCH_SIZE, len(ids)), len(ids))
    return scored


def _unscored(item_ids: list[int], version: ModelVersion) -> list[tuple[int, str]]:
    """Return (id, text) of the items without scores from this model and prompt."""
    current = Q(sentiment__llm_model=version, sentiment__prompt_version=SENTIMENT_PROMPT_VERSION)
    items = FeedbackItem.objects.filter(pk__in=item_ids).exclude(current).order_by("pk")
    return list(items.values_list("pk", "text"))


def _store_scores(item_ids: list[int], raw: np.ndarray, version: ModelVersion) -> None:
    now = timezone.now()
    rows = [
        ItemSentiment(
            item_id=pk,
            llm_scores=dict(zip(LABELS, row.round(6).tolist(), strict=True)),
            llm_model=version,
            prompt_version=SENTIMENT_PROMPT_VERSION,
            scored_at=now,
        )
        for pk, row in zip(item_ids, raw, strict=True)
    ]
    # Re-scoring keeps the prediction until predict_sentiment redoes it, and never
    # touches a person's correction.
    ItemSentiment.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=["llm_scores", "llm_model", "prompt_version", "scored_at"],
    )


def _scored_rows(item_ids: list[int], version: ModelVersion) -> QuerySet[ItemSentiment]:
    return ItemSentiment.objects.filter(
        item_id__in=item_ids, llm_model=version, prompt_version=SENTIMENT_PROMPT_VERSION
    ).order_by("item_id")


def _raw_matrix(rows: Sequence[ItemSentiment]) -> np.ndarray:
    scores = [[row.llm_scores[label] for label in LABELS] for row in rows]
    return np.array(scores).reshape(-1, len(LABELS))


def _vectors_for(ids: list[int], embedder: Embedder | None) -> np.ndarray | None:
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
    items: Iterable[int] | QuerySet[FeedbackItem] | None = None,
    llm_version: ModelVersion | None = None,
    embedder: Embedder | None = None,
) -> SentimentClassifier:
    """Fit and store the calibration prior and classifier on the items scored by
    llm_version (default: the configured model), of those given (default: all), and
    return the stored row."""
    llm_version = llm_version or model_version(configured_llm())
    embedder = embedder or configured_embedder()
    rows = _fitting_rows(llm_version, None if items is None else _item_ids(items))
    if not rows:
        raise SentimentError("No items have language-model scores yet: score them first.")
    ids = [row.item_id for row in rows]
    corrected = np.array([LABELS.index(row.corrected) if row.corrected else -1 for row in rows])
    fitted = fit_sentiment(_raw_matrix(rows), _vectors_for(ids, embedder), corrected)
    return SentimentClassifier.objects.create(
        llm_model=llm_version,
        prompt_version=SENTIMENT_PROMPT_VERSION,
        embedding_model=embedder.name,
        prior=dict(zip(LABELS, fitted.prior.tolist(), strict=True)),
        classifier=fitted.classifier,
        pseudo_labels=fitted.pseudo_labels,
        corrections=fitted.corrections,
        llm_accuracy=fitted.llm_accuracy,
        combined_accuracy=fitted.combined_accuracy,
        uses_classifier=fitted.uses_classifier,
        scored_items=ItemSentiment.objects.filter(
            llm_model=llm_version, prompt_version=SENTIMENT_PROMPT_VERSION
        ).count(),
    )


def _fitting_rows(version: ModelVersion, item_ids: list[int] | None) -> list[ItemSentiment]:
    """Return a fixed sample of up to FIT_SAMPLE_SIZE scored items and every corrected
    one, in id order."""
    scored = ItemSentiment.objects.filter(
        llm_model=version, prompt_version=SENTIMENT_PROMPT_VERSION
    )
    if item_ids is not None:
        scored = scored.filter(item_id__in=item_ids)
    uncorrected = list(scored.filter(corrected="").order_by("item_id").values_list("pk", flat=True))
    rng = np.random.default_rng(0)
    sample = rng.permutation(uncorrected)[:FIT_SAMPLE_SIZE].tolist() if uncorrected else []
    return list(scored.filter(Q(pk__in=sample) | ~Q(corrected="")).order_by("item_id"))


def predict_sentiment(
    item_ids: Iterable[int] | QuerySet[FeedbackItem], classifier: SentimentClassifier
) -> int:
    """Write each item's predicted sentiment, confidence and probabilities under the
    classifier; return how many items were predicted. Items the language model scored use
    its scores (with the embedding classifier, as fitted); items it has not scored yet
    (for this model and prompt) are predicted from their embeddings alone, where the
    classifier has been fitted. Corrections are never touched."""
    ids = _item_ids(item_ids)
    embedder = configured_embedder() if classifier.classifier else None
    predicted = 0
    for start in range(0, len(ids), PREDICT_BATCH_SIZE):
        batch = ids[start : start + PREDICT_BATCH_SIZE]
        rows = list(_scored_rows(batch, classifier.llm_model))
        if rows:
            use_vectors = embedder if classifier.uses_classifier else None
            vectors = _vectors_for([row.item_id for row in rows], use_vectors)
            distributions = predict_distributions(_raw_matrix(rows), vectors, classifier)
            _store_predictions(rows, distributions, classifier.pk)
        unscored = sorted(set(batch) - {row.item_id for row in rows})
        if embedder and unscored:
            predicted += _predict_from_embeddings(unscored, classifier, embedder)
        predicted += len(rows)
    return predicted


def _predict_from_embeddings(
    item_ids: list[int], classifier: SentimentClassifier, embedder: Embedder
) -> int:
    vectors = _vectors_for(item_ids, embedder)
    if vectors is None:
        return 0
    ItemSentiment.objects.bulk_create(
        [ItemSentiment(item_id=pk) for pk in item_ids], ignore_conflicts=True
    )
    rows = list(ItemSentiment.objects.filter(item_id__in=item_ids).order_by("item_id"))
    distributions = logistic_probabilities(classifier.classifier, vectors)
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


def correct_sentiment(
    item: FeedbackItem, label: str, user: AbstractBaseUser | None
) -> ItemSentiment:
    """Record a person's sentiment for an item, which wins over any prediction from now
    on; return the item's sentiment row."""
    if label not in LABELS:
        raise SentimentError(f"{label!r} is not a sentiment: use one of {', '.join(LABELS)}.")
    with transaction.atomic():
        sentiment = ItemSentiment.objects.select_for_update().filter(item=item).first()
        if sentiment is None:
            # The row needs the model that scored it; items get one when analysed.
            raise SentimentError("This item has not been analysed yet: run the analysis first.")
        sentiment.corrected = label
        sentiment.corrected_by = user if user and user.is_authenticated else None
        sentiment.corrected_at = timezone.now()
        sentiment.save(update_fields=["corrected", "corrected_by", "corrected_at"])
    return sentiment


def analyse_sentiment(
    items: Iterable[int] | QuerySet[FeedbackItem], on_progress: Progress | None = None
) -> int:
    """Score items with the language model (at most SENTIMENT_LLM_ITEMS_PER_RUN a run),
    refit the classifier when it is due, and bring every prediction up to date; return how
    many items the language model scored. on_progress(done, total) follows the scoring,
    the slow part."""
    if not isinstance(items, QuerySet):
        items = FeedbackItem.objects.filter(pk__in=list(items))
    llm = configured_llm()
    version = model_version(llm)
    scored = score_with_llm(_items_to_score(items, version), llm, on_progress)
    classifier = _latest_classifier(version)
    if classifier is None or _refit_is_due(classifier):
        if not ItemSentiment.objects.filter(llm_model=version).exists():
            return scored  # nothing scored yet: nothing to fit or predict from
        # Fitted on every scored item, not only these: the prior and the pseudo-labels
        # need hundreds of items, and a new batch may be a handful.
        classifier = fit_sentiment_classifier(llm_version=version)
    stale = ItemSentiment.objects.exclude(classifier=classifier).values_list("item_id", flat=True)
    new = items.filter(sentiment__isnull=True).values_list("pk", flat=True)
    predict_sentiment(sorted({*stale, *new}), classifier)
    return scored


def _items_to_score(items: QuerySet[FeedbackItem], version: ModelVersion) -> list[int]:
    """Return the items the language model scores this run: those a person corrected
    first (corrections train the classifier only with scores), then a fixed random sample
    of the others, so that calibration and pseudo-labels see a fair mix."""
    current = Q(sentiment__llm_model=version, sentiment__prompt_version=SENTIMENT_PROMPT_VERSION)
    unscored = items.exclude(current)
    corrected = list(unscored.filter(sentiment__corrected__gt="").values_list("pk", flat=True))
    others = sorted(set(unscored.values_list("pk", flat=True)) - set(corrected))
    sample = np.random.default_rng(0).permutation(others).tolist()
    chosen = corrected + sample
    budget = settings.SENTIMENT_LLM_ITEMS_PER_RUN
    return sorted(chosen[:budget] if budget else chosen)


# A classifier is fitted again when the scored items have grown by this share since.
REFIT_GROWTH = 0.2


def _latest_classifier(version: ModelVersion) -> SentimentClassifier | None:
    return (
        SentimentClassifier.objects.filter(
            llm_model=version,
            prompt_version=SENTIMENT_PROMPT_VERSION,
            embedding_model=configured_embedder().name,
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def _refit_is_due(classifier: SentimentClassifier) -> bool:
    """Whether a person corrected an item since the fit, or the scored items have grown by
    more than REFIT_GROWTH: refitting and predicting everything again on each small batch
    would cost more than it changes."""
    scored = ItemSentiment.objects.filter(
        llm_model=classifier.llm_model, prompt_version=classifier.prompt_version
    )
    if scored.filter(corrected_at__gt=classifier.created_at).exists():
        return True
    return scored.count() > (1 + REFIT_GROWTH) * classifier.scored_items
