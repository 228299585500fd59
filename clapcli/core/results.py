"""Results as small dataclasses: what core code returns and writers consume (no tensors)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Embedding:
    source: str  # input path, or the text itself
    kind: str  # "audio", "image" or "text"
    vector: np.ndarray  # (dim,) float32
    model: str
    duration: float | None = None  # seconds, for audio


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float


@dataclass
class Classification:
    source: str
    predictions: list[Prediction]  # best first
    duration: float | None = None

    @property
    def top(self) -> Prediction:
        return self.predictions[0]


@dataclass(frozen=True)
class FailedInput:
    source: str
    reason: str


@dataclass
class RunSummary:
    """What a batch run did: counts users see on stderr and in JSON."""

    processed: int = 0
    failed: list[FailedInput] = field(default_factory=list)
