"""A trained probe: one linear layer over L2-normalised embeddings, numpy only.

Single-label: ``softmax(X @ W.T + b)``; multi-label: ``sigmoid(X @ W.T + b)`` per class. The blend with
the zero-shot text prototypes is folded into ``W`` and ``b`` when the probe is fitted, so inference is
one matrix product whatever the blend weight (``fit.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clapcli.errors import ClapcliError, UsageError


class ProbeError(ClapcliError):
    """A probe cannot be used here (another model, another dimension, unknown class, bad directory)."""


@dataclass
class Probe:
    classes: list[str]
    weights: np.ndarray  # (n_classes, dim) float32
    bias: np.ndarray  # (n_classes,) float32
    multi_label: bool = False
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    @property
    def model_id(self) -> str | None:
        return self.manifest.get("model", {}).get("id")

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, n_classes) for embeddings (n, dim), normalised here (the probe was fitted on unit vectors)."""
        matrix = _unit_rows(embeddings)
        if matrix.shape[1] != self.dim:
            raise ProbeError(f"probe expects {self.dim}-dimensional embeddings, got {matrix.shape[1]}; use the "
                             f"model it was trained with ({self.model_id})")
        return matrix @ self.weights.T + self.bias

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = self.logits(embeddings)
        if self.multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Class indices (single-label; ties go to the first class, as a stable sort gives)."""
        return np.argsort(-self.probabilities(embeddings), axis=1, kind="stable")[:, 0]

    def check_model(self, model_id: str, dim: int, where: str = "--probe") -> None:
        """Refuse, in one line, a model other than the probe's or one with another embedding size."""
        if self.model_id is not None and model_id != self.model_id:
            raise ProbeError(f"{where}: this probe was trained on '{self.model_id}', not '{model_id}'; drop --model "
                             "(the probe's model is used) or train a probe for this model")
        if dim != self.dim:
            raise ProbeError(f"{where}: this probe expects {self.dim}-dimensional embeddings but '{model_id}' "
                             f"gives {dim}; train a probe for this model")

    def class_indices(self, names: Sequence[str], where: str = "--probe") -> list[int]:
        """Indices of ``names``; an unknown one refused in one line naming the probe's classes."""
        out = []
        for name in names:
            if name not in self.classes:
                raise UsageError(f"'{name}' is not a class of the probe {where} (classes: {', '.join(self.classes)})")
            out.append(self.classes.index(name))
        return out


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    from clapcli.core.text import l2_normalize

    return l2_normalize(matrix)
