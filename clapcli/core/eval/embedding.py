"""Media embedded once per model for an evaluation: straight through the streaming engine, or through a
library collection (``--db``) so a second evaluation of the same files costs only the text side."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clapcli.core.pipeline import encode_pairs
from clapcli.core.text import l2_normalize
from clapcli.models.base import EmbeddingModel
from clapcli.results import FailedInput


@dataclass
class EmbeddedSet:
    """Normalized embeddings of the inputs that worked; ``ok[i]`` = index into the requested paths."""

    matrix: np.ndarray
    ok: np.ndarray
    failed: list[FailedInput] = field(default_factory=list)
    reused: int = 0  # rows taken from the library unchanged


def collection_name(model: EmbeddingModel) -> str:
    """One collection per model and long-audio rule (a different rule gives different embeddings)."""
    return f"eval:{model.model_id}:{getattr(model, 'long_audio', 'mean')}"


def embed_paths(model: EmbeddingModel, paths: Sequence[Path], batch_size: int | None = None,
                workers: int | None = None, on_progress: Callable[[float], None] | None = None,
                db: str | Path | None = None) -> EmbeddedSet:
    if db is not None:
        return _through_library(model, paths, db, batch_size, workers, on_progress)
    rows: list[np.ndarray] = []
    ok: list[int] = []
    failed: list[FailedInput] = []
    sources = [Path(path) for path in paths]  # one object per requested row, even for a repeated path
    index_of = {id(source): index for index, source in enumerate(sources)}
    for source, result in encode_pairs(sources, model, batch_size, workers, on_progress):
        if isinstance(result, FailedInput):
            failed.append(result)
        else:
            rows.append(result.vector)
            ok.append(index_of[id(source)])
    return EmbeddedSet(_matrix(rows, model), np.array(ok, dtype=np.int64), failed)


def _matrix(rows: list[np.ndarray], model: EmbeddingModel) -> np.ndarray:
    if not rows:
        return np.zeros((0, model.embedding_dim), dtype=np.float32)
    return l2_normalize(np.stack(rows))


def _through_library(model: EmbeddingModel, paths: Sequence[Path], db: str | Path, batch_size: int | None,
                     workers: int | None, on_progress: Callable[[float], None] | None) -> EmbeddedSet:
    from clapcli.core.library import embed_into_store, open_collection
    from clapcli.store import open_store

    with open_store(db) as store:
        collection = open_collection(store, collection_name(model), model)
        summary = embed_into_store(model, list(paths), collection, batch_size=batch_size, workers=workers,
                                   on_progress=on_progress)
        failed_names = {f.source for f in summary.failed}
        rows: list[np.ndarray] = []
        ok: list[int] = []
        failed = list(summary.failed)
        for index, path in enumerate(paths):
            if str(path) in failed_names or os.path.abspath(path) in failed_names:
                continue
            vector = collection.vector_for(os.path.abspath(path))
            if vector is None:
                failed.append(FailedInput(str(path), "not found in the library after embedding"))
                continue
            rows.append(vector)
            ok.append(index)
    return EmbeddedSet(_matrix(rows, model), np.array(ok, dtype=np.int64), failed, summary.unchanged)
