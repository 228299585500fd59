"""An exported Perception Encoder Audio (``pe_export.py``) behind the ``EmbeddingModel`` interface, without torch:
the torch backend's numpy side (``clapcli.models.pe_windows``: windows of at most 30 s, reflect-padded to the
hop, equal lengths batched together) with the towers run by ONNX Runtime or OpenVINO, the logit scale and
bias from the manifest. A frame-level export also scores frames (``frame_logits``) for ``clap detect``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.models.base import EmbeddingModel
from clapcli.models.pe_windows import PeItem, PeWindows, batches_by_length
from clapcli.models.runtime.exported import ExportedTextSide, Rows, rows
from clapcli.models.runtime.manifest import Manifest

AUDIO_INPUT = "input_values"


class ExportedPeAudioModel(ExportedTextSide, PeWindows, EmbeddingModel):
    family = "pe-audio"
    modality = "audio"
    default_template = "{}"
    similarity = "dot"  # logits from raw (unnormalized) embeddings, as the torch backend
    default_scoring = "sigmoid"

    def __init__(self, directory: Path, manifest: Manifest, towers: Any, long_audio: str | None) -> None:
        self.attach(directory, manifest, towers)
        audio = manifest.audio
        self.frame_level = bool(audio.get("frame_level"))
        self.set_geometry(int(audio["sample_rate"]), int(audio["hop"]), long_audio or "mean", directory,
                          int(audio["window_samples"]))

    @property
    def logit_bias(self) -> float:
        return float(self.manifest.logit_bias)

    def encode_prepared(self, items: Sequence[PeItem]) -> Rows:
        """One row per item: the mean of its windows' embeddings (the ``mean`` long-audio rule)."""
        sums = np.zeros((len(items), self.embedding_dim), dtype=np.float32)
        for batch, places in batches_by_length(items):
            embeddings = self.towers.run("audio", {AUDIO_INPUT: batch})[0]
            for row, (owner, _index) in zip(embeddings, places):
                sums[owner] += row
        return rows(sums / np.array([len(item.windows) for item in items], dtype=np.float32)[:, None])

    def frame_logits(self, samples: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """(n_frames, n_texts) logits of one clip of at most ``max_samples``, as the torch backend's."""
        window = self._item([samples]).windows[0]
        frames = self.towers.run("audio", {AUDIO_INPUT: window[None, None, :]})[1][0]
        texts = np.asarray(text_embeddings, dtype=np.float32)
        scale, bias = np.float32(self.logit_scale), np.float32(self.logit_bias)
        return (frames.astype(np.float32) @ texts.T) * scale + bias
