"""``clap eval classify --probe-shots K``: per fold, a probe trained on K examples per class drawn (seeded)
from the *other* folds, tested on the held-out fold; figures pooled over the folds, beside zero-shot's on
the same items. A test item can never be a training item: training indices come only from items whose
fold differs, and each split is checked (``shot_splits``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from clapcli.core.eval.metrics import ClassificationFigures, classification_figures
from clapcli.core.probe.fit import fit_probe
from clapcli.core.probe.model import Probe
from clapcli.errors import InvalidField

SHOT_SEED = 0


def shot_splits(folds: np.ndarray, labels: np.ndarray, shots: int, n_classes: int,
                seed: int = SHOT_SEED) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(fold, train indices, test indices): up to ``shots`` per class from the other folds (seeded per fold)."""
    for fold in sorted(set(folds.tolist())):
        rng = np.random.default_rng([seed, shots, int(fold)])
        test = np.flatnonzero(folds == fold)
        pool = np.flatnonzero(folds != fold)
        train = np.concatenate([rng.choice(members, min(shots, len(members)), replace=False)
                                for c in range(n_classes) if len(members := pool[labels[pool] == c])])
        if np.intersect1d(train, test).size:  # impossible by construction; kept as a guard
            raise AssertionError(f"fold {fold}: a test item in the training set")
        yield int(fold), np.sort(train), test


def probe_shot_figures(embeddings: np.ndarray, labels: np.ndarray, folds: np.ndarray, prototypes: np.ndarray,
                       logit_scale: float, classes: list[str], shots: int, bootstrap: int = 1000
                       ) -> tuple[ClassificationFigures, dict[int, ClassificationFigures]]:
    """The probe's figures on every held-out fold pooled, and per fold."""
    if shots < 1:
        raise InvalidField("probe_shots", "must be whole numbers >= 1")
    if len(set(folds.tolist())) < 2:
        raise InvalidField("probe_shots", "needs a dataset with two or more folds (ESC-50, UrbanSound8K, or a CSV "
                                          "with a fold column)")
    probabilities = np.zeros((len(labels), len(classes)))
    per_fold = {}
    for fold, train, test in shot_splits(folds, labels, shots, len(classes)):
        present = sorted(set(labels[train].tolist()))
        remap = {c: i for i, c in enumerate(present)}
        fitted = fit_probe(embeddings[train], np.array([remap[c] for c in labels[train]]),
                           [classes[c] for c in present], prototypes[present], logit_scale)
        probe = Probe([classes[c] for c in present], fitted.weights, fitted.bias)
        probabilities[np.ix_(test, present)] = probe.probabilities(embeddings[test])
        per_fold[fold] = classification_figures(labels[test], probabilities[test], bootstrap)
    return classification_figures(labels, probabilities, bootstrap), per_fold
