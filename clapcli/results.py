"""Results as small dataclasses: what core code returns and writers consume (no tensors).

The bottom layer: every layer may use these; they import nothing of clapcli."""

from __future__ import annotations

from dataclasses import dataclass

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
    """An input that could not be used (no such file, undecodable, rejected by the model), with a
    one-line reason; the run goes on with the other inputs."""

    source: str
    reason: str


@dataclass
class FrameScores:
    """One file's per-window scores (``clap detect``): window ``i`` spans ``starts[i]``..``ends[i]``
    seconds and scored ``scores[i, j]`` for ``labels[j]``."""

    source: str
    labels: list[str]
    starts: np.ndarray  # (n,) float64 seconds
    ends: np.ndarray  # (n,) float64 seconds
    scores: np.ndarray  # (n, n_labels) float32
    duration: float  # the file's length in seconds


@dataclass(frozen=True)
class Event:
    """A detected sound event: ``label`` from ``onset`` to ``offset`` seconds (within the file), with
    the peak and mean (smoothed) window score over it."""

    source: str
    label: str
    onset: float
    offset: float
    peak: float
    mean: float
