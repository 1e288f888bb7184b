"""Calibration, pseudo-labels and the classifier on embeddings, on plain arrays (no database):
steps 2 to 4 of the sentiment stage (insights.pipeline.sentiment.stage)."""

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold, StratifiedKFold

from insights.models import Calibration, SentimentClassifier
from insights.pipeline.sentiment.prompt import LABELS

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
# With fewer labels (corrections and ratings), cross-validated accuracies are too noisy to
# choose by.
MIN_LABELS_TO_VALIDATE = 30
# Without labels to choose by: see choose_calibration.
DEFAULT_CALIBRATION = Calibration.CONTENT_FREE
CROSS_VALIDATION_FOLDS = 5
# Weights of the language model's log-probabilities against the classifier's, tried by
# cross-validation when there are enough corrections (the research chose 0.25-1.5).
LLM_WEIGHTS = (0.5, 1.0, 2.0)


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


def calibration_priors(raw: np.ndarray, content_free: np.ndarray | None) -> dict[str, np.ndarray]:
    """Return the prior of each calibration that can be made: none (uniform), the mean over
    the source's items, and the model's scores of content-free texts where given."""
    priors: dict[str, np.ndarray] = {
        Calibration.RAW: np.full(len(LABELS), 1 / len(LABELS)),
        Calibration.MEAN: fit_prior(raw),
    }
    if content_free is not None and len(content_free):
        mean = content_free.mean(axis=0)
        priors[Calibration.CONTENT_FREE] = mean / mean.sum()
    return priors


def choose_calibration(raw: np.ndarray, priors: dict[str, np.ndarray], labelled: np.ndarray) -> str:
    """Return the calibration to use: with MIN_LABELS_TO_VALIDATE labelled items or more, the
    one whose predictions have the best macro-F1 on them (a tie goes to the simpler, in
    Calibration's order); without, DEFAULT_CALIBRATION where it can be made, else the mean."""
    rows = np.flatnonzero(labelled >= 0)
    if len(rows) < MIN_LABELS_TO_VALIDATE:
        return DEFAULT_CALIBRATION if DEFAULT_CALIBRATION in priors else Calibration.MEAN
    truth = labelled[rows]
    scores = {
        kind: macro_f1(truth, calibrate(raw[rows], prior).argmax(axis=1))
        for kind, prior in priors.items()
    }
    return max(priors, key=lambda kind: scores[kind])  # max keeps the first of equals


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(
        f1_score(truth, predicted, labels=range(len(LABELS)), average="macro", zero_division=0)
    )


def pseudo_labels_per_class(n_items: int) -> int:
    """Return how many of the surest items of each class become training labels."""
    scaled = round(PSEUDO_LABELS_PER_CLASS * n_items / PSEUDO_LABELS_FULL_AT)
    return min(PSEUDO_LABELS_PER_CLASS, max(MIN_PSEUDO_LABELS_PER_CLASS, scaled))


def pseudo_labels(calibrated: np.ndarray, per_class: int) -> np.ndarray:
    """Return a label index per row: the class for the rows predicted most confidently as
    it, -1 for the others. per_class is the mean per class; each class gets its share of
    the predictions, at least MIN_PSEUDO_LABELS_PER_CLASS. On a source that is mostly one
    class, an equal number per class would make "the surest neutral" of ordinary positive
    reviews (Amazon device reviews, 94 % positive: macro-F1 0.337 equal, 0.403 in
    proportion; airline tweets 0.679 and 0.675)."""
    labels = np.full(len(calibrated), -1)
    predicted = calibrated.argmax(axis=1)
    counts = np.bincount(predicted, minlength=calibrated.shape[1])
    shares = counts / max(1, len(predicted))
    for label in range(calibrated.shape[1]):
        rows = np.flatnonzero(predicted == label)
        wanted = max(MIN_PSEUDO_LABELS_PER_CLASS, round(per_class * len(shares) * shares[label]))
        surest = rows[np.argsort(-calibrated[rows, label], kind="stable")[:wanted]]
        labels[surest] = label
    return labels


def fit_feature_scaling(features: np.ndarray, vectors: np.ndarray) -> dict:
    """Return how the language model's feature logits join the embeddings as classifier
    inputs: each standardised on the fitting rows, then scaled so that the block's total
    variance equals the embeddings', so that one regularisation weighs both alike."""
    mean, sd = features.mean(axis=0), features.std(axis=0)
    scale = float(np.sqrt(vectors.var(axis=0).sum() / features.shape[1]))
    return {
        "mean": mean.round(5).tolist(),
        "sd": np.where(sd > 1e-6, sd, 1.0).round(5).tolist(),
        "scale": scale,
    }


def classifier_inputs(vectors: np.ndarray, features: np.ndarray, scaling: dict) -> np.ndarray:
    """Return the embeddings with the scaled feature logits beside them (fit_feature_scaling)."""
    mean, sd = np.asarray(scaling["mean"]), np.asarray(scaling["sd"])
    return np.hstack([vectors, (features - mean) / sd * scaling["scale"]])


def classifier_probabilities(
    classifier: dict, vectors: np.ndarray, features: np.ndarray | None = None
) -> np.ndarray:
    """Return the stored classifier's probabilities, columns in LABELS order: from the
    embeddings and the feature logits where it was fitted on both, from the embeddings
    alone by its embeddings-only twin for items the language model has not read (features
    None), and from the embeddings where it was fitted on them alone."""
    scaling = classifier.get("features")
    if scaling is None:
        return logistic_probabilities(classifier, vectors)
    if features is None:
        return logistic_probabilities(classifier["embedding_only"], vectors)
    return logistic_probabilities(classifier, classifier_inputs(vectors, features, scaling))


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
    ratings: int = 0
    calibration: str = Calibration.MEAN
    llm_accuracy: float | None = None
    combined_accuracy: float | None = None
    uses_classifier: bool = False


def fit_sentiment(
    raw: np.ndarray,
    vectors: np.ndarray | None,
    corrected: np.ndarray,
    *,
    features: np.ndarray | None = None,
    rated: np.ndarray | None = None,
    content_free: np.ndarray | None = None,
    correction_weight: float = 1.0,
) -> SentimentFit:
    """Fit the calibration and the classifier to one source's items.

    raw: the language model's label probabilities, one row per item; vectors: the items'
    embeddings (None: fit the calibration alone); features: the language model's feature
    logits, one row per item (None or no columns: the classifier learns from the
    embeddings alone; measured in docs/research/sentiment.md, they add 0.01-0.035
    macro-F1 and never took any away); corrected: a label index per item where a
    person corrected it, else -1; rated: the same for what its star rating reads as
    (insights.pipeline.sentiment.ratings); content_free: the model's label probabilities
    for texts that say nothing (CONTENT_FREE_TEXTS), one row each. A person's label wins
    over a rating, and both over the calibrated model's surest labels (pseudo-labels).
    """
    rated = np.full(len(raw), -1) if rated is None else rated
    labelled = np.where(corrected >= 0, corrected, rated)
    priors = calibration_priors(raw, content_free)
    calibration = choose_calibration(raw, priors, labelled)
    prior = priors[calibration]
    calibrated = calibrate(raw, prior)
    labels = pseudo_labels(calibrated, pseudo_labels_per_class(len(raw)))
    fitted = SentimentFit(
        prior,
        {},
        pseudo_labels=int(((labels >= 0) & (labelled < 0)).sum()),
        corrections=int((corrected >= 0).sum()),
        ratings=int(((rated >= 0) & (corrected < 0)).sum()),
        calibration=calibration,
    )
    labels = np.where(labelled >= 0, labelled, labels)
    too_few = len(raw) < MIN_ITEMS_FOR_CLASSIFIER or len(set(labels[labels >= 0])) < len(LABELS)
    if vectors is None or too_few:
        return fitted
    weights = np.where(corrected >= 0, correction_weight, 1.0)
    scaling, inputs = None, vectors
    if features is not None and features.shape[1]:
        scaling = fit_feature_scaling(features, vectors)
        inputs = classifier_inputs(vectors, features, scaling)
    if (labelled >= 0).sum() < MIN_LABELS_TO_VALIDATE:
        # Too few labels to tell: the research found the combination better.
        classifier = fit_logistic(inputs[labels >= 0], labels[labels >= 0], weights[labels >= 0])
        classifier["llm_weight"] = 1.0
        fitted = replace(fitted, classifier=classifier, uses_classifier=True)
    else:
        fitted = _fit_validated(fitted, calibrated, inputs, labels, labelled, weights)
    if scaling is not None:
        # Items the language model has not read yet have embeddings only.
        fitted.classifier["features"] = scaling
        trained = labels >= 0
        fitted.classifier["embedding_only"] = fit_logistic(
            vectors[trained], labels[trained], weights[trained]
        )
    return fitted


def _fit_validated(
    fitted: SentimentFit,
    calibrated: np.ndarray,
    vectors: np.ndarray,
    labels: np.ndarray,
    labelled: np.ndarray,
    weights: np.ndarray,
) -> SentimentFit:
    """Choose by cross-validation on the labelled items (corrections and ratings) between
    the calibrated language model alone, its product with the classifier (and the product's
    weight), and a combination learned from the labels (stacked)."""
    rows = np.flatnonzero(labelled >= 0)
    truth = labelled[rows]
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
    """Return the classifier's probabilities for the labelled rows, each from a classifier
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
    raw: np.ndarray,
    vectors: np.ndarray | None,
    fitted: SentimentClassifier,
    features: np.ndarray | None = None,
) -> np.ndarray:
    """Return each item's sentiment distribution under a fitted classifier; vectors None
    (items without embeddings): the calibrated language model alone; features: the
    language model's feature logits, for a classifier fitted with them."""
    prior = np.array([fitted.prior[label] for label in LABELS])
    calibrated = calibrate(raw, prior)
    if not fitted.uses_classifier or not fitted.classifier or vectors is None:
        return calibrated
    probs = classifier_probabilities(fitted.classifier, vectors, features)
    if "stack" in fitted.classifier:
        return logistic_probabilities(fitted.classifier["stack"], stack_features(calibrated, probs))
    return fuse(calibrated, probs, fitted.classifier["llm_weight"])
