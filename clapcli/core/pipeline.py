"""The streaming engine: inputs -> decode (thread pool, bounded prefetch) -> batches -> model.

Decoding, resampling and (on CPU) the log-mel features run in worker threads while the model runs
on the main thread (torch releases the GIL), so the CPU never waits on I/O; on an accelerator the
features are computed batched on the device instead. Workers run numpy only: a torch op in a
worker thread would start an OpenMP thread team there and slow the forward passes (see
``EmbeddingModel.prepare``). Memory stays flat: at most ``prefetch`` decoded inputs and one batch
are alive at a time, however many files go through.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.core.results import FailedInput
from clapcli.errors import InputError
from clapcli.io.readers import Failure
from clapcli.models.base import EmbeddingModel


@dataclass(frozen=True)
class ArrayInput:
    """In-memory media for the Python API: audio samples (with their rate) or a PIL image."""

    name: str
    data: Any
    sample_rate: int | None = None


@dataclass
class Prepared:
    source: str
    item: Any
    duration: float | None


Source = Path | ArrayInput | Failure


def default_batch_size(model: EmbeddingModel) -> int:
    """Windows per forward pass: small on CPU (faster per clip there, DESIGN.md §5), larger on GPU."""
    device = getattr(model, "device", None)
    return 4 if device is None or device.type == "cpu" else 32


def default_workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))


def prepare_one(source: Path | ArrayInput, model: EmbeddingModel) -> Prepared:
    """Decode and preprocess one input; raises ``InputError`` with the reason."""
    if model.modality == "audio":
        samples, duration = _audio_samples(source, model)
        return Prepared(str(_name(source)), model.prepare(samples), duration)
    from clapcli.media.image import load_image

    image = source.data if isinstance(source, ArrayInput) else load_image(source, model.model_id)
    return Prepared(str(_name(source)), model.prepare(image), None)


def _audio_samples(source: Path | ArrayInput, model: EmbeddingModel) -> tuple[np.ndarray, float]:
    from clapcli.audio.decode import check_samples, load_audio, resample, to_mono

    rate = model.sample_rate
    if isinstance(source, ArrayInput):
        samples = to_mono(np.asarray(source.data, dtype=np.float32).T if np.ndim(source.data) == 2 else
                          np.asarray(source.data, dtype=np.float32))
        check_samples(samples, source.name)
        source_rate = source.sample_rate or rate
        return resample(samples, source_rate, rate), len(samples) / source_rate  # type: ignore[arg-type]
    if _looks_like_image(source):
        raise InputError(f"{source}: is an image, but '{model.model_id}' is an audio model")
    decoded = load_audio(source, rate)
    return decoded.samples, decoded.duration


def _looks_like_image(path: Path) -> bool:
    from clapcli.media.kinds import IMAGE_EXTENSIONS

    return path.suffix.lower() in IMAGE_EXTENSIONS


def _name(source: Path | ArrayInput) -> str:
    return source.name if isinstance(source, ArrayInput) else str(source)


def prepared_stream(
    sources: Iterable[Source], model: EmbeddingModel, workers: int | None = None, prefetch: int | None = None
) -> Iterator[Prepared | FailedInput]:
    """Prepared inputs in input order, decoded ahead in a thread pool; failures are yielded, not raised."""
    workers = workers or default_workers()
    prefetch = prefetch or 4 * workers
    pending: deque[tuple[Source, Future | None]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clapcli-decode") as pool:
        for source in sources:
            future = None if isinstance(source, Failure) else pool.submit(prepare_one, source, model)
            pending.append((source, future))
            if len(pending) >= prefetch:
                yield _resolve(*pending.popleft())
        while pending:
            yield _resolve(*pending.popleft())


def _resolve(source: Source, future: Future | None) -> Prepared | FailedInput:
    if isinstance(source, Failure):
        return FailedInput(source.source, source.reason)
    try:
        return future.result()  # type: ignore[union-attr]
    except InputError as exc:
        return FailedInput(_name(source), _strip_name(str(exc), _name(source)))
    except MemoryError:
        return FailedInput(_name(source), "out of memory while decoding; is the file enormous?")
    except Exception as exc:  # any decoder bug must not stop the other inputs
        return FailedInput(_name(source), f"could not be read ({type(exc).__name__}: {exc})")


def _strip_name(message: str, name: str) -> str:
    """Messages name the file; results carry it separately."""
    prefix = f"{name}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def batched(
    stream: Iterable[Prepared | FailedInput], cost: Callable[[Any], int], batch_size: int
) -> Iterator[list[Prepared] | FailedInput]:
    """Group prepared inputs so a batch holds about ``batch_size`` model windows; failures pass through."""
    batch: list[Prepared] = []
    windows = 0
    for entry in stream:
        if isinstance(entry, FailedInput):
            yield entry
            continue
        batch.append(entry)
        windows += cost(entry.item)
        if windows >= batch_size:
            yield batch
            batch, windows = [], 0
    if batch:
        yield batch


def encode_stream(
    sources: Iterable[Source], model: EmbeddingModel, batch_size: int | None = None,
    workers: int | None = None, on_progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[Prepared, np.ndarray] | FailedInput]:
    """(input, raw embedding) pairs in input order, or failures. A batch the model rejects is retried
    one input at a time so only the culprit fails."""
    batch_size = batch_size or default_batch_size(model)
    for group in batched(prepared_stream(sources, model, workers), model.items_cost, batch_size):
        if isinstance(group, FailedInput):
            yield group
        else:
            yield from _encode_group(group, model)
        if on_progress is not None:
            on_progress(1 if isinstance(group, FailedInput) else len(group))


def _encode_group(group: list[Prepared], model: EmbeddingModel) -> Iterator[tuple[Prepared, np.ndarray] | FailedInput]:
    try:
        vectors = model.encode_prepared([p.item for p in group]).numpy()
    except (RuntimeError, ValueError) as exc:
        if len(group) == 1:
            yield FailedInput(group[0].source, f"the model could not process it ({_first_line(exc)})")
            return
        for single in group:
            yield from _encode_group([single], model)
        return
    yield from zip(group, vectors)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__
