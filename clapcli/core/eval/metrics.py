"""Evaluation metrics, numpy only.

Classification figures follow scikit-learn's definitions (``accuracy_score``, ``top_k_accuracy_score``,
``f1_score(average="macro")`` over the labels present in truth or predictions with zero_division=0,
``confusion_matrix``); retrieval figures follow LAION-CLAP's ``get_metrics`` (one caption per clip) and
``evaluate_clotho_audiocaps`` (several captions per clip): 0-based ranks, R@k = share of ranks < k,
mAP@10 = mean of 1/(rank+1) over ranks < 10, mean rank = mean + 1, median rank = floor(median) + 1.
tests/eval checks each figure against those libraries on the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SEED = 0


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan")


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of items whose true class is among the ``k`` best-scored (ties broken by class order,
    as a stable sort does)."""
    if not len(y_true):
        return float("nan")
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean((order == np.asarray(y_true)[:, None]).any(axis=1)))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def per_class_f1(matrix: np.ndarray) -> np.ndarray:
    """F1 per class from a confusion matrix; 0 where precision or recall is undefined (zero_division=0)."""
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    denominator = predicted + actual
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def macro_f1(matrix: np.ndarray) -> float:
    """Mean F1 over the classes that occur in the truth or the predictions (scikit-learn's default labels)."""
    present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    if not present.any():
        return float("nan")
    return float(per_class_f1(matrix)[present].mean())


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Recall of each class (NaN for a class with no items)."""
    actual = matrix.sum(axis=1).astype(np.float64)
    return np.divide(np.diag(matrix), actual, out=np.full(len(actual), np.nan), where=actual > 0)


def bootstrap_interval(correct: np.ndarray, samples: int = 1000, level: float = 0.95,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the accuracy (items resampled with replacement; fixed seed, so
    the same predictions always give the same interval)."""
    correct = np.asarray(correct, dtype=np.float64)
    if len(correct) == 0 or samples <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    for start in range(0, samples, 256):  # bounded memory for large datasets
        count = min(256, samples - start)
        picks = rng.integers(0, len(correct), size=(count, len(correct)))
        means[start:start + count] = correct[picks].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


@dataclass
class ClassificationFigures:
    n: int
    top1: float
    top5: float
    macro_f1: float
    ci_low: float
    ci_high: float
    per_class: np.ndarray  # accuracy of each class (NaN when absent)
    matrix: np.ndarray  # confusion counts

    def as_dict(self, classes: Sequence[str]) -> dict:
        return {
            "n": self.n, "top1": self.top1, "top5": self.top5, "macro_f1": self.macro_f1,
            "top1_ci95": [self.ci_low, self.ci_high],
            "per_class_accuracy": {c: (None if np.isnan(v) else float(v)) for c, v in zip(classes, self.per_class)},
        }


def classification_figures(y_true: np.ndarray, scores: np.ndarray, bootstrap: int = 1000) -> ClassificationFigures:
    """Every classification figure from true class indices and (n, n_classes) scores."""
    y_true = np.asarray(y_true, dtype=np.int64)
    n_classes = scores.shape[1]
    y_pred = np.argsort(-scores, axis=1, kind="stable")[:, 0] if len(y_true) else np.zeros(0, dtype=np.int64)
    matrix = confusion(y_true, y_pred, n_classes)
    low, high = bootstrap_interval(y_true == y_pred, bootstrap)
    return ClassificationFigures(
        len(y_true), accuracy(y_true, y_pred), top_k_accuracy(y_true, scores, 5), macro_f1(matrix), low, high,
        per_class_accuracy(matrix), matrix,
    )


# ------------------------------------------------------------------------------------------ retrieval


def _ranks(similarity: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of column ``targets[i]`` in row i of ``similarity`` sorted best first (ties: lower
    index first, as a stable sort)."""
    rows = np.arange(len(targets))
    target = similarity[rows, targets][:, None]
    columns = np.arange(similarity.shape[1])[None, :]
    better = (similarity > target) | ((similarity == target) & (columns < targets[:, None]))
    return better.sum(axis=1)


def _rank_figures(ranks: np.ndarray, prefix: str) -> dict:
    figures = {f"{prefix}_R@{k}": float(np.mean(ranks < k)) for k in (1, 5, 10)}
    figures[f"{prefix}_mAP@10"] = float(np.mean(np.where(ranks < 10, 1.0 / (ranks + 1), 0.0)))
    figures[f"{prefix}_mean_rank"] = float(ranks.mean() + 1)
    figures[f"{prefix}_median_rank"] = float(np.floor(np.median(ranks)) + 1)
    return figures


@dataclass
class RetrievalRanks:
    text_to_audio: np.ndarray  # (n_captions,) 0-based rank of each caption's clip among all clips
    audio_to_text: np.ndarray  # (n_clips,) 0-based best rank of the clip's captions among all captions
    audio_to_text_all: list[np.ndarray]  # per clip: the 0-based ranks of each of its captions


def retrieval_ranks(similarity: np.ndarray, caption_clip: Sequence[int], block: int = 1024) -> RetrievalRanks:
    """``similarity``: (n_clips, n_captions); ``caption_clip[j]`` = the clip caption j describes."""
    caption_clip = np.asarray(caption_clip, dtype=np.int64)
    n_clips, n_captions = similarity.shape
    by_text = similarity.T
    t2a = np.concatenate([_ranks(by_text[s:s + block], caption_clip[s:s + block])
                          for s in range(0, n_captions, block)]) if n_captions else np.zeros(0, dtype=np.int64)
    a2t_all: list[np.ndarray] = []
    for clip in range(n_clips):
        own = np.flatnonzero(caption_clip == clip)
        a2t_all.append(_ranks(np.repeat(similarity[clip:clip + 1], len(own), axis=0), own))
    a2t = np.array([ranks.min() if len(ranks) else n_captions for ranks in a2t_all], dtype=np.int64)
    return RetrievalRanks(t2a, a2t, a2t_all)


def retrieval_figures(similarity: np.ndarray, caption_clip: Sequence[int]) -> dict:
    """LAION-CLAP's figures: text->audio R@1/5/10, mAP@10, mean/median rank (each caption a query);
    audio->text R@1/5/10 and mean/median rank from the best-ranked of the clip's captions, and
    audio->text mAP@10 as the docstring of LAION's ``evaluate_clotho_audiocaps`` (after Mei et al.)
    defines it: the clip's captions ranked < 10, sorted, sum of i/(rank+1), divided by the number of
    its captions."""
    ranks = retrieval_ranks(similarity, caption_clip)
    figures = {"clips": int(similarity.shape[0]), "captions": int(similarity.shape[1])}
    figures.update(_rank_figures(ranks.text_to_audio, "text_to_audio"))
    a2t = _rank_figures(ranks.audio_to_text, "audio_to_text")
    a2t["audio_to_text_mAP@10"] = float(np.mean([_average_precision_at_10(r) for r in ranks.audio_to_text_all]))
    figures.update(a2t)
    return figures


def _average_precision_at_10(ranks: np.ndarray) -> float:
    if not len(ranks):
        return 0.0
    hits = np.sort(ranks[ranks < 10])
    return float(np.sum(np.arange(1, len(hits) + 1) / (hits + 1)) / len(ranks))
