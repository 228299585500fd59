"""A deterministic text model for the map's cluster labels: each text's embedding is a fixed vector made from
its own bytes (crc32 seeds a normal draw), so the nearest prompt to a cluster can be computed by brute force
(random model weights collapse: every prompt would look alike). It records every text it embeds."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import torch

from clapcli.models.base import EmbeddingModel


def text_vector(text: str, dim: int) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(text.encode())).standard_normal(dim).astype(np.float32)


class HashTextModel(EmbeddingModel):
    family = "hash-text"
    modality = "audio"
    default_template = "{}"

    def __init__(self, model_id: str = "m", dim: int = 16) -> None:
        self.model_id = model_id
        self.embedding_dim = dim
        self.texts: list[str] = []

    @classmethod
    def load(cls, ref, config, device, dtype, long_audio=None):  # noqa: ANN001
        return cls()

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        self.texts += list(texts)
        return torch.from_numpy(np.stack([text_vector(t, self.embedding_dim) for t in texts]))

    def prepare(self, media):  # noqa: ANN001
        raise NotImplementedError

    def encode_prepared(self, items):  # noqa: ANN001
        raise NotImplementedError

    @property
    def logit_scale(self) -> float:
        return 100.0
