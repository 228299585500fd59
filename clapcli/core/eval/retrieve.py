"""Text<->audio retrieval evaluation: one model over a ``RetrievalDataset``, with LAION-CLAP's metrics.

Clips are embedded once, captions once; the similarity matrix is the cosine (logit_scale does not change
any rank). Clips that fail to decode are left out with their captions, and named."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clapcli.core.eval.captions import RetrievalDataset
from clapcli.core.eval.embedding import embed_paths
from clapcli.core.eval.metrics import retrieval_figures, retrieval_ranks
from clapcli.core.text import encode_texts
from clapcli.errors import InputError
from clapcli.models.base import EmbeddingModel
from clapcli.results import FailedInput


@dataclass
class RetrieveResult:
    model_id: str
    figures: dict
    clips: np.ndarray  # indices into dataset.clips that were embedded
    captions: np.ndarray  # indices into dataset.captions kept (those of embedded clips)
    text_to_audio_ranks: np.ndarray
    audio_to_text_ranks: np.ndarray
    failed: list[FailedInput] = field(default_factory=list)
    reused: int = 0


def evaluate_retrieval(
    model: EmbeddingModel, dataset: RetrievalDataset, batch_size: int | None = None, workers: int | None = None,
    on_progress: Callable[[float], None] | None = None, db: str | Path | None = None,
) -> RetrieveResult:
    embedded = embed_paths(model, dataset.clips, batch_size, workers, on_progress, db)
    if len(embedded.ok) < 2:
        raise InputError(f"{dataset.metadata}: only {len(embedded.ok)} clip(s) could be embedded; retrieval needs "
                         "at least two")
    position = np.full(len(dataset.clips), -1, dtype=np.int64)
    position[embedded.ok] = np.arange(len(embedded.ok))
    caption_clip = position[np.asarray(dataset.caption_clip, dtype=np.int64)]
    kept = np.flatnonzero(caption_clip >= 0)
    texts = encode_texts(model, [dataset.captions[i] for i in kept])
    similarity = embedded.matrix @ texts.T
    figures = retrieval_figures(similarity, caption_clip[kept])
    ranks = retrieval_ranks(similarity, caption_clip[kept])
    return RetrieveResult(model.model_id, figures, embedded.ok, kept, ranks.text_to_audio, ranks.audio_to_text,
                          embedded.failed, embedded.reused)


def item_ranks(result: RetrieveResult, dataset: RetrievalDataset) -> dict:
    """Per-query ranks (1-based) for the report."""
    return {
        "text_to_audio": [
            {"caption": dataset.captions[j], "clip": str(dataset.clips[dataset.caption_clip[j]]), "rank": int(r) + 1}
            for j, r in zip(result.captions, result.text_to_audio_ranks)
        ],
        "audio_to_text": [
            {"clip": str(dataset.clips[i]), "best_rank": int(r) + 1}
            for i, r in zip(result.clips, result.audio_to_text_ranks)
        ],
    }
