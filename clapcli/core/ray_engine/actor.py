"""Ray model actors: one model load per actor process, decoded rows -> embedding rows.

Each actor runs the local engine's ``embed_media`` on the samples the decode tasks made, and returns
the one Arrow layout of embeddings (``clapcli.io.arrow``) with its ``error`` column, so the sink can
split good rows from failed ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from clapcli.results import FailedInput


@dataclass(frozen=True)
class ModelSpec:
    """What each actor loads: the same arguments as the local engine's model loading."""

    name: str | None
    device: str = "auto"
    precision: str | None = None  # --precision (exact, fast, bfloat16, float16, int8)
    runtime: str | None = None  # --runtime (torch, openvino, onnx, auto)
    long_audio: str | None = None
    normalize: bool = True
    batch_size: int | None = None


class EmbedActor:
    """One model per actor process, loaded once; embeds decoded rows with the local engine's code path."""

    def __init__(self, spec: ModelSpec, num_cpus: float = 1.0) -> None:
        from clapcli.models.loading import load_embedding_model

        self.spec = spec
        self.model = load_embedding_model(spec.name, spec.device, long_audio=spec.long_audio, runtime=spec.runtime,
                                          precision=spec.precision)
        on_torch = getattr(self.model, "runtime", "torch") == "torch"
        if on_torch and self.model.device.type == "cpu":  # one actor per CPU slot: don't oversubscribe the node
            import torch

            torch.set_num_threads(max(1, int(num_cpus)))

    def __call__(self, batch: Any) -> Any:
        from clapcli.core.embed import embed_media
        from clapcli.core.pipeline import ArrayInput

        sources = [FailedInput(path, error) if error is not None else ArrayInput(path, samples, self.model.sample_rate)
                   for path, samples, error in _rows(batch)]
        results = embed_media(self.model, sources, self.spec.normalize, self.spec.batch_size, workers=1)
        return self._table(list(results))

    def _table(self, results: list[Any]) -> Any:
        from clapcli.io.arrow import embedding_table
        from clapcli.io.writers import embedding_record
        from clapcli.results import Embedding

        good = [r for r in results if isinstance(r, Embedding)]
        errors = [{"path": r.source, "error": r.reason} for r in results if isinstance(r, FailedInput)]
        return embedding_table([embedding_record(r, with_vector=False) for r in good], [r.vector for r in good],
                               errors, dim=self.model.embedding_dim, with_error=True)


def _rows(batch: Any) -> Iterable[tuple[str, np.ndarray | None, str | None]]:
    """(path, samples, error) per row, slicing the Arrow buffer instead of copying to Python lists."""
    column = batch.column("samples").combine_chunks()
    values = column.values.to_numpy(zero_copy_only=False)
    offsets = column.offsets.to_numpy()
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    for index, (path, error) in enumerate(zip(batch.column("path").to_pylist(), batch.column("error").to_pylist())):
        samples = values[offsets[index]:offsets[index + 1]] if valid[index] else None
        yield path, samples, error
