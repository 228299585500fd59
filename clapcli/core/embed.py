"""Embedding audio/image files and texts: the library behind ``clap embed``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from clapcli.core.pipeline import Source, encode_stream
from clapcli.core.text import encode_texts, l2_normalize
from clapcli.models.base import EmbeddingModel
from clapcli.results import Embedding, FailedInput


def embed_media(
    model: EmbeddingModel, sources: Iterable[Source], normalize: bool = True, batch_size: int | None = None,
    workers: int | None = None, on_progress: Callable[[float], None] | None = None,
) -> Iterator[Embedding | FailedInput]:
    """One ``Embedding`` per readable input, in input order; a ``FailedInput`` for each other one."""
    for result in encode_stream(sources, model, batch_size, workers, on_progress):
        if isinstance(result, FailedInput):
            yield result
            continue
        if normalize:
            result.vector = l2_normalize(result.vector[None])[0]
        yield result


def embed_texts(model: EmbeddingModel, texts: Sequence[str], normalize: bool = True) -> list[Embedding]:
    vectors = encode_texts(model, texts, normalize)
    return [Embedding(text, "text", vector, model.model_id) for text, vector in zip(texts, vectors)]
