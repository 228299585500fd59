"""A labelled set -> embeddings (the eval pipeline, ``--db`` cache) -> a fitted probe with its manifest."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.core.eval.datasets import ClassDataset, label_text
from clapcli.core.eval.embedding import embed_paths
from clapcli.core.probe.fit import SEED, FitResult, check_targets, fit_probe
from clapcli.core.probe.model import Probe
from clapcli.core.text import encode_texts
from clapcli.errors import InputError, InvalidField
from clapcli.models.base import EmbeddingModel
from clapcli.models.hub import cached_revision
from clapcli.results import FailedInput
from clapcli.version import __version__


@dataclass
class LabelledSet:
    """What a probe trains on: files, class names, and targets (n,) class indices or (n, k) 0/1."""

    source: Path
    classes: list[str]
    paths: list[Path]
    targets: np.ndarray
    multi_label: bool = False
    skipped: int = 0

    @classmethod
    def from_dataset(cls, dataset: ClassDataset) -> LabelledSet:
        return cls(dataset.metadata or dataset.root, list(dataset.classes), [i.path for i in dataset.items],
                   np.array([i.label for i in dataset.items], dtype=np.int64), False, dataset.skipped)

    def counts(self) -> dict[str, int]:
        per_class = self.targets.sum(axis=0) if self.multi_label else np.bincount(self.targets, minlength=len(
            self.classes))
        return {name: int(count) for name, count in zip(self.classes, per_class)}


@dataclass
class Trained:
    probe: Probe
    fit: FitResult
    failed: list[FailedInput] = field(default_factory=list)
    reused: int = 0


def prototypes(model: EmbeddingModel, classes: Sequence[str], template: str | None) -> tuple[np.ndarray, str, list]:
    """The zero-shot text prototypes of the class names (``chirping_birds`` -> "chirping birds")."""
    template = template if template is not None else model.default_template
    if "{}" not in template:
        raise InvalidField("template", "{template} {value!r} must contain '{{}}' where the label goes", value=template)
    texts = [label_text(name) for name in classes]
    return encode_texts(model, [template.replace("{}", text) for text in texts]), template, texts


@dataclass
class EmbeddedTraining:
    data: LabelledSet  # the files that embedded, with their targets
    matrix: np.ndarray  # their normalised embeddings
    failed: list[FailedInput]
    reused: int = 0


def embed_training_set(model: EmbeddingModel, data: LabelledSet, batch_size: int | None = None,
                       workers: int | None = None, on_progress: Callable[[float], None] | None = None,
                       db: str | Path | None = None) -> EmbeddedTraining:
    """Embed the files (a failed file is kept aside, named by the caller; the others train)."""
    check_targets(data.targets, data.classes, data.multi_label)  # before any embedding
    embedded = embed_paths(model, data.paths, batch_size, workers, on_progress, db)
    kept = LabelledSet(data.source, data.classes, [data.paths[i] for i in embedded.ok], data.targets[embedded.ok],
                       data.multi_label)
    return EmbeddedTraining(kept, embedded.matrix, embedded.failed, embedded.reused)


def fit_embedded(model: EmbeddingModel, embedded: EmbeddedTraining, template: str | None = None,
                 C: float | None = None, blend: float | None = None) -> Trained:
    data = embedded.data
    if not data.paths:
        raise InputError("every training file failed (each named above); nothing to train on")
    text, template, texts = prototypes(model, data.classes, template)
    fitted = fit_probe(embedded.matrix, data.targets, data.classes, text, model.logit_scale, data.multi_label, C,
                       blend)
    manifest = probe_manifest(model, data, fitted, template, texts)
    probe = Probe(list(data.classes), fitted.weights, fitted.bias, data.multi_label, manifest)
    return Trained(probe, fitted, embedded.failed, embedded.reused)


def train_probe(model: EmbeddingModel, data: LabelledSet, template: str | None = None, batch_size: int | None = None,
                workers: int | None = None, on_progress: Callable[[float], None] | None = None,
                db: str | Path | None = None, C: float | None = None, blend: float | None = None) -> Trained:
    """Embed and fit in one call (the Python face; the command names failures between the two steps)."""
    return fit_embedded(model, embed_training_set(model, data, batch_size, workers, on_progress, db), template, C,
                        blend)


def probe_manifest(model: EmbeddingModel, data: LabelledSet, fitted: FitResult, template: str,
                   texts: list[str]) -> dict[str, Any]:
    cv = None
    if fitted.cv_score is not None:
        cv = {"metric": "label accuracy" if data.multi_label else "accuracy", "value": fitted.cv_score,
              "ci95": list(fitted.cv_interval or ()), "zero_shot": fitted.zero_shot_cv_score, "folds": fitted.folds}
    return {
        "model": {"id": model.model_id, "revision": cached_revision(model.model_id), "family": model.family,
                  "long_audio": getattr(model, "long_audio", "mean"), "logit_scale": float(model.logit_scale)},
        "template": template, "label_texts": texts,
        "training": {"source": str(data.source), "files": len(data.paths), "hash": training_hash(data),
                     "counts": data.counts()},
        "fit": {"C": fitted.C, "blend": fitted.blend, "seed": SEED,
                "note": "blend = weight of the zero-shot text prototypes (1 = zero-shot alone)"},
        "cross_validation": cv, "clapcli_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def training_hash(data: LabelledSet) -> str:
    """SHA-256 over the sorted (file content hash, labels) pairs: the same sounds with the same labels give
    the same hash wherever they are stored and whatever they are called."""
    from clapcli.store.sqlite import content_hash

    rows = []
    for path, target in zip(data.paths, data.targets):
        labels = [data.classes[i] for i in np.flatnonzero(target)] if data.multi_label else [data.classes[target]]
        rows.append(content_hash(path) + "\t" + "\x1f".join(labels))
    return hashlib.sha256("\n".join(sorted(rows)).encode("utf-8")).hexdigest()
