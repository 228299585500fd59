"""Zero-shot classification evaluation: one model over a ``ClassDataset``.

The media are embedded once (``embedding.embed_paths``), the label prompts once; probabilities are
``core.classify.scores`` (softmax of logit_scale * cosine) and the ranking ``core.classify.rank``, so
predictions are exactly those of ``clap classify`` with the same labels and template.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clapcli.core.classify import prepare_labels, rank, scores
from clapcli.core.eval.datasets import ClassDataset, DatasetError, label_text
from clapcli.core.eval.embedding import embed_paths
from clapcli.core.eval.metrics import ClassificationFigures, classification_figures
from clapcli.models.base import EmbeddingModel
from clapcli.results import FailedInput


@dataclass
class ClassifyResult:
    model_id: str
    template: str
    label_texts: list[str]
    items: np.ndarray  # indices into dataset.items that were embedded
    probabilities: np.ndarray  # (len(items), n_classes)
    overall: ClassificationFigures
    per_fold: dict[int, ClassificationFigures] = field(default_factory=dict)
    failed: list[FailedInput] = field(default_factory=list)
    reused: int = 0
    embeddings: np.ndarray | None = None  # (len(items), dim) normalised: what --probe-shots trains on
    label_embeddings: np.ndarray | None = None  # the prompts' (zero-shot prototypes)
    logit_scale: float = 1.0

    def fold_mean(self, metric: str) -> float | None:
        if not self.per_fold:
            return None
        return float(np.mean([getattr(f, metric) for f in self.per_fold.values()]))


def display_labels(dataset: ClassDataset, lines: Sequence[str] | None, source: str = "--labels-file") -> list[str]:
    """Label text per class: the class names made readable, or ``lines`` (one per class in the dataset's class
    order, or ``class<TAB>text`` lines naming each class)."""
    if not lines:
        texts = [label_text(name) for name in dataset.classes]
    elif any("\t" in line for line in lines):
        mapping: dict[str, str] = {}
        for number, line in enumerate(lines, start=1):
            name, sep, text = line.partition("\t")
            if not sep or not text.strip():
                raise DatasetError(f"{source}:{number}: expected 'class<TAB>label text'")
            if name.strip() not in dataset.classes:
                raise DatasetError(f"{source}:{number}: '{name.strip()}' is not a class of the dataset")
            mapping[name.strip()] = text.strip()
        missing = [c for c in dataset.classes if c not in mapping]
        if missing:
            raise DatasetError(f"{source}: no label text for class '{missing[0]}' ({len(missing)} missing)")
        texts = [mapping[c] for c in dataset.classes]
    else:
        if len(lines) != len(dataset.classes):
            raise DatasetError(f"{source}: {len(lines)} lines for {len(dataset.classes)} classes; give one label text "
                               "per class in the dataset's class order, or 'class<TAB>text' lines")
        texts = [line.strip() for line in lines]
    seen: dict[str, str] = {}
    for name, text in zip(dataset.classes, texts):
        if text in seen:
            raise DatasetError(f"classes '{seen[text]}' and '{name}' have the same label text '{text}'; give distinct "
                               "texts with --labels-file")
        seen[text] = name
    return texts


def evaluate_classification(
    model: EmbeddingModel, dataset: ClassDataset, label_texts: Sequence[str], template: str | None,
    bootstrap: int = 1000, batch_size: int | None = None, workers: int | None = None,
    on_progress: Callable[[float], None] | None = None, db: str | Path | None = None,
) -> ClassifyResult:
    label_set = prepare_labels(model, label_texts, template)
    if label_set.labels != list(label_texts):  # prepare_labels strips and drops duplicates
        raise DatasetError("label texts must be distinct and non-empty")
    embedded = embed_paths(model, [item.path for item in dataset.items], batch_size, workers, on_progress, db)
    probabilities = scores(embedded.matrix, label_set) if len(embedded.ok) else np.zeros((0, len(label_texts)))
    truth = np.array([dataset.items[i].label for i in embedded.ok], dtype=np.int64)
    result = ClassifyResult(
        model.model_id, template if template is not None else model.default_template, list(label_texts),
        embedded.ok, probabilities, classification_figures(truth, probabilities, bootstrap),
        failed=embedded.failed, reused=embedded.reused, embeddings=embedded.matrix,
        label_embeddings=label_set.embeddings, logit_scale=label_set.logit_scale,
    )
    folds = np.array([dataset.items[i].fold for i in embedded.ok], dtype=object)
    for fold in dataset.folds:
        mask = folds == fold
        if mask.any():
            result.per_fold[fold] = classification_figures(truth[mask], probabilities[mask], bootstrap)
    return result


def item_predictions(result: ClassifyResult, dataset: ClassDataset, top_k: int = 5) -> list[dict]:
    """One record per evaluated item: path, fold, true class, predicted class, the top-k label texts and scores."""
    records = []
    for row, index in enumerate(result.items):
        item = dataset.items[index]
        ranked = rank(result.probabilities[row], result.label_texts, top_k)
        records.append({
            "path": str(item.path), "fold": item.fold, "truth": dataset.classes[item.label],
            "predicted": dataset.classes[result.label_texts.index(ranked[0].label)],
            "correct": result.label_texts.index(ranked[0].label) == item.label,
            "top": [{"label": p.label, "score": p.score} for p in ranked],
        })
    return records
