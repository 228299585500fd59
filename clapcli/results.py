"""Results as small dataclasses: what core code returns and writers consume (no tensors).

The bottom layer: every layer may use these; they import nothing of clapcli."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Embedding:
    source: str  # input path, or the text itself
    kind: str  # "audio", "image" or "text"
    vector: np.ndarray  # (dim,) float32
    model: str
    duration: float | None = None  # seconds, for audio

    def to_dict(self, with_vector: bool = True) -> dict[str, Any]:
        """The record ``clap embed -f json`` writes: ``path`` (files) or ``text`` (texts), the other None."""
        text = self.kind == "text"
        record: dict[str, Any] = {
            "path": None if text else self.source,
            "text": self.source if text else None,
            "kind": self.kind,
            "duration": _rounded(self.duration),
            "model": self.model,
        }
        if with_vector:
            record["embedding"] = [float(x) for x in self.vector]
        return record


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds), 6)


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

    def to_dict(self) -> dict[str, Any]:
        """The record ``clap classify -f json`` writes."""
        return {"path": self.source, "duration": _rounded(self.duration),
                "predictions": [{"label": p.label, "score": p.score} for p in self.predictions]}


@dataclass(frozen=True)
class FailedInput:
    """An input that could not be used (no such file, undecodable, rejected by the model), with a
    one-line reason; the run goes on with the other inputs."""

    source: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The row JSON outputs give a failed input."""
        return {"path": self.source, "error": self.reason}


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

    def to_dict(self) -> dict[str, Any]:
        """The record ``clap detect -f json`` writes (times to the millisecond)."""
        return {"path": self.source, "label": self.label, "onset": round(self.onset, 3),
                "offset": round(self.offset, 3), "peak": round(self.peak, 6), "mean": round(self.mean, 6)}
