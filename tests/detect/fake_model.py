"""A deterministic test model for detection (docs/design.md §5): an audio window's embedding is the share of
its 50 ms frames dominated by each frequency band (or by silence), a label's embedding is the one-hot
of its band. Detection logic can then be checked exactly on synthesized tones at known times."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from clapcli.audio.decode import AudioStream
from clapcli.models.base import EmbeddingModel

RATE = 8000
FRAME = 400  # 50 ms
# Band edges in Hz; a frame below SILENCE_RMS is "silence" (the last dimension).
BANDS = [(0, 1000), (1000, 2000), (2000, 4001)]
SILENCE_RMS = 1e-3
LABEL_CLASSES = {"low tone": 0, "mid tone": 1, "high tone": 2, "silence": 3}
TONES = {"low tone": 500.0, "mid tone": 1500.0, "high tone": 3000.0}


def band_histogram(samples: np.ndarray) -> np.ndarray:
    """(4,) share of 50 ms frames per class: the dominant band of each frame, or silence."""
    samples = np.asarray(samples, dtype=np.float64)
    count = max(1, len(samples) // FRAME)
    shares = np.zeros(len(BANDS) + 1)
    freqs = np.fft.rfftfreq(FRAME, 1 / RATE)
    for i in range(count):
        frame = samples[i * FRAME : (i + 1) * FRAME]
        if len(frame) < FRAME:
            frame = np.pad(frame, (0, FRAME - len(frame)))
        if np.sqrt(np.mean(frame**2)) < SILENCE_RMS:
            shares[-1] += 1
            continue
        power = np.abs(np.fft.rfft(frame)) ** 2
        energies = [power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in BANDS]
        shares[int(np.argmax(energies))] += 1
    return shares / count


class FakeBandModel(EmbeddingModel):
    family = "fake-bands"
    modality = "audio"
    default_template = "{}"

    def __init__(self) -> None:
        self.model_id = "fake-bands"
        self.sample_rate = RATE
        self.window_seconds = 1.0
        self.embedding_dim = len(BANDS) + 1
        self.calls = 0

    @classmethod
    def load(cls, ref, config, device, dtype, long_audio=None):  # noqa: ANN001
        return cls()

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.embedding_dim)
        for row, text in enumerate(texts):
            out[row, LABEL_CLASSES[text]] = 1.0
        return out

    def prepare(self, media) -> np.ndarray:  # noqa: ANN001
        if isinstance(media, AudioStream):
            media = media.read()
        return band_histogram(media).astype(np.float32)

    def encode_prepared(self, items: Sequence[np.ndarray]) -> torch.Tensor:
        self.calls += 1
        return torch.from_numpy(np.stack(items))

    @property
    def logit_scale(self) -> float:
        return 20.0


def tone_track(segments: list[tuple[str, float, float]], seconds: float, rate: int = RATE) -> np.ndarray:
    """Silence of ``seconds`` with each (label, onset, offset) tone written in, amplitude 0.5."""
    out = np.zeros(int(round(seconds * rate)), dtype=np.float32)
    for label, onset, offset in segments:
        a, b = int(round(onset * rate)), int(round(offset * rate))
        t = np.arange(b - a) / rate
        out[a:b] += (0.5 * np.sin(2 * np.pi * TONES[label] * t)).astype(np.float32)
    return out


# Shared by the detection tests (here, not in conftest.py: test modules import them by name, and a
# module called 'conftest' exists in several test folders).
LABELS = "low tone,mid tone,high tone,silence"
# (label, onset, offset) of the tones in "scene.wav", 12 s long
SCENE = [("low tone", 2.0, 5.0), ("high tone", 6.0, 8.5), ("mid tone", 9.0, 11.0)]
