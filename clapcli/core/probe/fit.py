"""Fitting a probe: scikit-learn's LogisticRegression on L2-normalised embeddings, blended with the
zero-shot text prototypes of the class names, strength and blend chosen by cross-validation.

- The zero-shot layer is ``logit_scale * (T - mean(T))`` (T: the normalised prompt embeddings). For a
  softmax the centring changes nothing (the probabilities are exactly ``clap classify``'s); for the
  multi-label sigmoid it makes "above the average class" the 0.5 point.
- The probe is ``(1 - a) * logistic + a * zero_shot`` in logit space, both linear in the embedding, so it
  is folded into one weight matrix and bias (``model.Probe``).
- ``C`` (inverse L2 strength) over ``C_GRID`` and ``a`` over ``BLEND_GRID`` are chosen by
  stratified k-fold cross-validation on the training set (k = min(5, smallest class count)): ``C`` by
  the out-of-fold accuracy of the logistic regression alone, then ``a`` by the out-of-fold accuracy of
  the blend (multi-label: per-class decisions at 0.5), ties to the larger ``a``.
- Zero-shot is kept unless the chosen blend beats it clearly: the mean paired per-item gain on the
  out-of-fold predictions must exceed ``MARGIN_Z`` standard errors, and its accuracy must beat always
  answering the commonest class by as much. ``C`` is, among those within one standard error of the best
  accuracy, the nearest to scikit-learn's default 1 (a one-standard-error rule). With mislabelled or noise training
  data no blend beats it, so the probe *is* the zero-shot classifier (``a = 1``) and cannot score below it.
- Fewer than 2 examples in some class (multi-label: fewer than 2 positives or negatives): no
  cross-validation; ``DEFAULT_C`` and ``DEFAULT_BLEND`` are used and the manifest says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np

from clapcli.core.eval.metrics import bootstrap_interval
from clapcli.core.probe.model import ProbeError
from clapcli.core.text import l2_normalize
from clapcli.errors import missing_extra

C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)
BLEND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)  # weight of the zero-shot text prototypes; 1 = zero-shot alone
DEFAULT_C = 1.0  # too few examples to cross-validate: scikit-learn's default
DEFAULT_BLEND = 0.5
MAX_FOLDS = 5
MARGIN_Z = 3.0  # about p < 0.002 one-sided: an accidental gain on noise rarely passes
SEED = 0
MAX_ITER = 1000


@dataclass
class FitResult:
    weights: np.ndarray  # (n_classes, dim) float32, the blend folded in
    bias: np.ndarray  # (n_classes,) float32
    C: float
    blend: float
    folds: int  # cross-validation folds; 0 = too few examples, defaults used
    cv_score: float | None  # out-of-fold accuracy of the chosen probe
    cv_interval: tuple[float, float] | None  # its 95% bootstrap interval
    zero_shot_cv_score: float | None  # the zero-shot classifier's on the same items


def zero_shot_layer(prototypes: np.ndarray, logit_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The text prototypes as a linear layer (see the module docstring)."""
    unit = l2_normalize(prototypes).astype(np.float64)
    return logit_scale * (unit - unit.mean(axis=0, keepdims=True)), np.zeros(len(unit))


def logistic_layer(embeddings: np.ndarray, targets: np.ndarray, C: float, multi_label: bool = False,
                   seed: int = SEED, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's fit as (weights (k, dim), bias (k,)) for a softmax (single-label) or sigmoids."""
    LogisticRegression = _sklearn_logistic()
    X = l2_normalize(embeddings).astype(np.float64)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(converge|ConvergenceWarning).*")
        if multi_label:
            rows = [_binary(LogisticRegression, X, targets[:, c], C, seed) for c in range(targets.shape[1])]
            return np.stack([w for w, _ in rows]), np.array([b for _, b in rows])
        classes = n_classes or int(targets.max()) + 1
        present = np.unique(targets)
        fitted = LogisticRegression(C=C, max_iter=MAX_ITER, random_state=seed).fit(X, targets)
    coef, intercept = fitted.coef_, fitted.intercept_
    if coef.shape[0] == 1:  # binary: sigmoid(w.x + b) == softmax of (-w/2, w/2)
        coef, intercept = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
    weights, bias = np.zeros((classes, X.shape[1])), np.full(classes, -1e4)
    weights[present], bias[present] = coef, intercept  # a class absent from this fold is never predicted
    return weights, bias


def _binary(LogisticRegression, X: np.ndarray, y: np.ndarray, C: float, seed: int) -> tuple[np.ndarray, float]:
    if y.min() == y.max():  # a cross-validation fold without positives (or negatives) for this class
        return np.zeros(X.shape[1]), (1e4 if y[0] else -1e4)
    fitted = LogisticRegression(C=C, max_iter=MAX_ITER, random_state=seed).fit(X, y)
    return fitted.coef_[0], float(fitted.intercept_[0])


def _sklearn_logistic():
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise missing_extra("scikit-learn", "train") from None
    return LogisticRegression


def check_targets(targets: np.ndarray, classes: Sequence[str], multi_label: bool) -> None:
    """One line for a dataset a probe cannot be trained on: one class, or a class without examples."""
    if len(classes) < 2:
        raise ProbeError(f"the training set has {len(classes)} class ({', '.join(classes) or 'none'}); a probe "
                         "needs at least two classes")
    counts = targets.sum(axis=0) if multi_label else np.bincount(targets, minlength=len(classes))
    for name, count in zip(classes, counts):
        if count == 0:
            raise ProbeError(f"class '{name}' has no training example; add files for it or remove it")
        if multi_label and count == len(targets):
            raise ProbeError(f"class '{name}' is on every training file; a probe needs files without it too")


def fit_probe(embeddings: np.ndarray, targets: np.ndarray, classes: Sequence[str], prototypes: np.ndarray,
              logit_scale: float, multi_label: bool = False, C: float | None = None, blend: float | None = None,
              seed: int = SEED) -> FitResult:
    """The probe for ``embeddings`` (n, dim) and ``targets`` (n,) class indices or (n, k) 0/1 for multi-label.
    ``C`` / ``blend`` given: used as they are (no search)."""
    targets = np.asarray(targets, dtype=np.int64)
    check_targets(targets, classes, multi_label)
    with _one_thread():
        return _fit(embeddings, targets, prototypes, logit_scale, multi_label, C, blend, seed)


def _one_thread() -> AbstractContextManager:
    """BLAS and OpenMP on one thread while fitting. The products are small (a few thousand x 512 by 512 x
    classes), so a second thread saves little, and on a busy machine the pools' threads wait for each
    other: a 2,000-clip fit measured 83 s with the default pools and 3.7 s on one thread (docs/probes.md)."""
    _sklearn_logistic()  # the missing extra named before threadpoolctl (a scikit-learn dependency) is imported
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _fit(embeddings: np.ndarray, targets: np.ndarray, prototypes: np.ndarray, logit_scale: float,
         multi_label: bool, C: float | None, blend: float | None, seed: int) -> FitResult:
    X = l2_normalize(embeddings).astype(np.float64)
    zw, zb = zero_shot_layer(prototypes, logit_scale)
    folds = _fold_count(targets, multi_label)
    result = FitResult(zw, zb, C or DEFAULT_C, DEFAULT_BLEND if blend is None else blend, 0, None, None, None)
    if folds >= 2 and (C is None or blend is None):
        result = _cross_validate(X, targets, zw, zb, multi_label, folds, C, blend, seed)
    lw, lb = (zw, zb) if result.blend == 1.0 else logistic_layer(X, targets, result.C, multi_label, seed, len(zw))
    result.weights = ((1 - result.blend) * lw + result.blend * zw).astype(np.float32)
    result.bias = ((1 - result.blend) * lb + result.blend * zb).astype(np.float32)
    return result


def _fold_count(targets: np.ndarray, multi_label: bool) -> int:
    if multi_label:
        positives = targets.sum(axis=0)
        smallest = int(min(positives.min(), (len(targets) - positives).min()))
    else:
        smallest = int(np.bincount(targets).min())
    return min(MAX_FOLDS, smallest)


def _warm_path(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, grid: Sequence[float], n_classes: int,
               seed: int):
    """Out-of-fold logits for each C, in increasing order, each fit started from the previous solution
    (``warm_start``: the same optimum, a fraction of the iterations; the search costs ~3x less)."""
    fitted = _sklearn_logistic()(max_iter=MAX_ITER, random_state=seed, warm_start=True)
    present = np.unique(y)
    for C in sorted(grid):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(converge|ConvergenceWarning).*")
            fitted.set_params(C=C).fit(X, y)
        coef, intercept = fitted.coef_, fitted.intercept_
        if coef.shape[0] == 1:
            coef, intercept = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
        logits = np.full((len(X_test), n_classes), -1e4)
        logits[:, present] = X_test @ coef.T + intercept
        yield C, logits


def item_scores(logits: np.ndarray, targets: np.ndarray, multi_label: bool) -> np.ndarray:
    """Per item: 1/0 correct (single-label), or the share of classes decided right at 0.5 (multi-label)."""
    if multi_label:
        return ((logits > 0) == (targets > 0)).mean(axis=1)
    return (np.argsort(-logits, axis=1, kind="stable")[:, 0] == targets).astype(np.float64)


def _cross_validate(X: np.ndarray, targets: np.ndarray, zw: np.ndarray, zb: np.ndarray, multi_label: bool,
                    folds: int, fixed_C: float | None, fixed_blend: float | None, seed: int) -> FitResult:
    grid_C = (fixed_C,) if fixed_C is not None else C_GRID
    grid_blend = (fixed_blend,) if fixed_blend is not None else BLEND_GRID
    out_of_fold = {C: np.zeros((len(X), zw.shape[0])) for C in grid_C}
    for train, test in _splits(X, targets, multi_label, folds, seed):
        if multi_label:
            for C in grid_C:
                w, b = logistic_layer(X[train], targets[train], C, multi_label, seed, len(zw))
                out_of_fold[C][test] = X[test] @ w.T + b
            continue
        for C, logits in _warm_path(X[train], targets[train], X[test], grid_C, len(zw), seed):
            out_of_fold[C][test] = logits
    C = _one_standard_error(grid_C, {c: item_scores(out_of_fold[c], targets, multi_label) for c in grid_C})
    zero_logits = X @ zw.T + zb
    zero = item_scores(zero_logits, targets, multi_label)
    best: tuple[tuple, float, np.ndarray] | None = None
    for a in grid_blend:
        scores = item_scores((1 - a) * out_of_fold[C] + a * zero_logits, targets, multi_label)
        key = (round(float(scores.mean()), 12), a)
        if best is None or key > best[0]:
            best = (key, a, scores)
    assert best is not None
    _, a, scores = best
    if fixed_blend is None and a < 1.0 and not (_clearly_better(scores, zero)
                                                and _above_chance(scores, targets, multi_label)):
        a, scores = 1.0, zero
    return FitResult(zw, zb, C, a, folds, float(scores.mean()), bootstrap_interval(scores), float(zero.mean()))


def _one_standard_error(grid: Sequence[float], scores: dict[float, np.ndarray]) -> float:
    """Among the strengths whose out-of-fold accuracy is within one standard error of the best, the one
    nearest scikit-learn's default (C = 1): a few examples per class give a noisy estimate, and a gain
    smaller than its own error is not worth leaving the well-tried default for."""
    best = max(grid, key=lambda c: float(scores[c].mean()))
    spread = float(scores[best].std(ddof=1)) / np.sqrt(len(scores[best])) if len(scores[best]) > 1 else 0.0
    near = [c for c in grid if float(scores[c].mean()) >= float(scores[best].mean()) - spread]
    return min(near, key=lambda c: (abs(np.log10(c)), c))


def _above_chance(scores: np.ndarray, targets: np.ndarray, multi_label: bool) -> bool:
    """The blend's out-of-fold score beats always answering the commonest class by ``MARGIN_Z`` standard
    errors: on noise labels nothing does, and the probe stays zero-shot."""
    if multi_label:
        prevalence = targets.mean(axis=0)
        chance = float(np.maximum(prevalence, 1 - prevalence).mean())
    else:
        chance = float(np.bincount(targets).max() / len(targets))
    spread = np.sqrt(max(chance * (1 - chance), 1e-12) / len(scores))
    return float(scores.mean()) - chance > MARGIN_Z * spread


def _clearly_better(scores: np.ndarray, zero: np.ndarray) -> bool:
    gain = scores - zero
    mean = float(gain.mean())
    spread = float(gain.std(ddof=1)) / np.sqrt(len(gain)) if len(gain) > 1 else 0.0
    return mean > MARGIN_Z * spread if spread > 0 else mean > 0


def _splits(X: np.ndarray, targets: np.ndarray, multi_label: bool, folds: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold

    if multi_label:
        return KFold(folds, shuffle=True, random_state=seed).split(X)
    return StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, targets)
