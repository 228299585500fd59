"""``clap classify --probe``: the probe's probabilities in place of the zero-shot ones, same results."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from clapcli.core.classify import rank
from clapcli.core.pipeline import Source, encode_stream
from clapcli.core.probe.model import Probe
from clapcli.models.base import EmbeddingModel
from clapcli.results import Classification, FailedInput


def classify_with_probe(
    model: EmbeddingModel, sources: Iterable[Source], probe: Probe, top_k: int | None = None,
    batch_size: int | None = None, workers: int | None = None, on_progress: Callable[[float], None] | None = None,
) -> Iterator[Classification | FailedInput]:
    """Each result carries its own source (paired by identity by ``encode_stream``)."""
    probe.check_model(model.model_id, model.embedding_dim)
    for result in encode_stream(sources, model, batch_size, workers, on_progress):
        if isinstance(result, FailedInput):
            yield result
            continue
        probabilities = probe.probabilities(result.vector[None])[0]
        yield Classification(result.source, rank(probabilities, probe.classes, top_k), result.duration)
