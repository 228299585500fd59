"""Text embeddings: computed once per run, in length-sorted batches padded per batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clapcli.errors import UsageError
from clapcli.models.base import EmbeddingModel

TEXT_BATCH = 64


def encode_texts(model: EmbeddingModel, texts: Sequence[str], normalize: bool = True) -> np.ndarray:
    """(len(texts), dim) float32. Sorting by length keeps padding (and time) low; order is restored."""
    if not texts:
        return np.zeros((0, model.embedding_dim), dtype=np.float32)
    for text in texts:
        if not text.strip():
            raise UsageError("an empty text or label was given; remove it or write something")
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.embedding_dim), dtype=np.float32)
    for start in range(0, len(order), TEXT_BATCH):
        chunk = order[start : start + TEXT_BATCH]
        out[chunk] = model.encode_text([texts[i] for i in chunk]).numpy()
    return l2_normalize(out) if normalize else out


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    """Rows (a 1-D vector is one row) scaled to unit length, float32; zero rows stay zero. The one
    normalizer: embeddings, queries and search matrices all go through it."""
    matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float32))
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, np.float32(1e-12))
