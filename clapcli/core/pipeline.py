"""The streaming engine: inputs -> decode (thread pool, bounded prefetch) -> batches -> model.

Decoding, resampling and (on CPU) the log-mel features run in worker threads while the model runs
on the main thread (torch releases the GIL), so the CPU never waits on I/O; on an accelerator the
features are computed batched on the device instead. Workers run numpy only: a torch op in a
worker thread would start an OpenMP thread team there and slow the forward passes (see
``EmbeddingModel.prepare``). Memory stays flat: at most ``prefetch`` decoded inputs and one batch
are alive at a time, however many files go through; and audio longer than ``STREAM_SECONDS`` is
never decoded whole: its windows are cut from the file block by block and go through the model
``batch_size`` at a time, their mean accumulated as a running sum.

One piece (~330 lines): decoding ahead, batching, encoding and pairing each result with its input are
one ordering contract (results strictly in input order), easiest to check when read together.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from clapcli.errors import InputError
from clapcli.models.base import EmbeddingModel
from clapcli.results import Embedding, FailedInput
from clapcli.text import first_line


@dataclass(frozen=True)
class ArrayInput:
    """In-memory media for the Python API: audio samples (with their rate), an ``AudioStream``
    already opened at the model's rate (decoded block by block, like a file), or a PIL image."""

    name: str
    data: Any
    sample_rate: int | None = None
    tag: Any = None  # the caller's own mark, handed back with the result by ``encode_pairs``


@dataclass
class Prepared:
    source: str
    item: Any
    duration: float | None
    origin: Any = None  # the input object it came from: results are paired with it, never by position


Source = Path | ArrayInput | FailedInput


def default_batch_size(model: EmbeddingModel) -> int:
    """Windows per forward pass: small on CPU (faster per clip there, docs/design.md §3), larger on GPU."""
    device = getattr(model, "device", None)
    return 4 if device is None or device.type == "cpu" else 32


def default_workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))


# Audio longer than this is handed to the model as a stream: decoded, cut into windows and encoded
# chunk by chunk (at most ``batch_size`` windows at a time) instead of held whole, so memory stays
# flat in a file's length. Shorter audio is decoded whole in the decode threads, as before.
STREAM_SECONDS = 60.0


def prepare_one(source: Path | ArrayInput, model: EmbeddingModel) -> Prepared:
    """Decode and preprocess one input; raises ``InputError`` with the reason."""
    if model.modality == "audio":
        media, duration = _audio_media(source, model)
        return Prepared(str(_name(source)), model.prepare(media), duration)
    from clapcli.media.image import load_image

    image = source.data if isinstance(source, ArrayInput) else load_image(source, model.model_id)
    return Prepared(str(_name(source)), model.prepare(image), None)


def _audio_media(source: Path | ArrayInput, model: EmbeddingModel) -> tuple[Any, float]:
    """Mono samples at the model's rate, or an ``AudioStream`` of them for long audio."""
    from clapcli.audio.decode import AudioStream, check_rate, check_samples, open_audio, resample, to_mono

    rate = model.sample_rate
    if isinstance(source, ArrayInput) and isinstance(source.data, AudioStream):  # opened by the caller (a server)
        if source.data.sample_rate != rate:
            raise InputError(f"{source.name}: opened at {source.data.sample_rate} Hz, the model needs {rate} Hz")
        stream = source.data
        duration = stream.duration
    elif isinstance(source, ArrayInput):
        samples = to_mono(np.asarray(source.data, dtype=np.float32).T if np.ndim(source.data) == 2 else
                          np.asarray(source.data, dtype=np.float32))
        check_samples(samples, source.name)
        source_rate = check_rate(rate if source.sample_rate is None else source.sample_rate, source.name)
        resampled = resample(samples, source_rate, rate, source.name)  # type: ignore[arg-type]
        stream = AudioStream.of_array(source.name, resampled, rate, source_rate)  # type: ignore[arg-type]
        duration = len(samples) / source_rate
    else:
        if _looks_like_image(source):
            raise InputError(f"{source}: is an image, but '{model.model_id}' is an audio model")
        stream = open_audio(source, rate)
        duration = stream.duration
    return (stream if stream.duration > STREAM_SECONDS else stream.read()), duration


def _looks_like_image(path: Path) -> bool:
    from clapcli.media.kinds import IMAGE_EXTENSIONS

    return path.suffix.lower() in IMAGE_EXTENSIONS


def _name(source: Path | ArrayInput) -> str:
    return source.name if isinstance(source, ArrayInput) else str(source)


def prepared_stream(
    sources: Iterable[Source], model: EmbeddingModel, workers: int | None = None, prefetch: int | None = None
) -> Iterator[Prepared | FailedInput]:
    """Prepared inputs in input order, decoded ahead in a thread pool; failures are yielded in place, not
    raised. Each ``Prepared`` carries its input as ``origin``; a failure is paired with its input by
    ``_origin_of``."""
    workers = workers or default_workers()
    prefetch = prefetch or 4 * workers
    pending: deque[tuple[Source, Future | None]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clapcli-decode") as pool:
        for source in sources:
            future = None if isinstance(source, FailedInput) else pool.submit(prepare_one, source, model)
            pending.append((source, future))
            if len(pending) >= prefetch:
                yield _resolve(*pending.popleft())
        while pending:
            yield _resolve(*pending.popleft())


def _resolve(source: Source, future: Future | None) -> Prepared | FailedInput:
    if isinstance(source, FailedInput):
        return source
    try:
        prepared = future.result()  # type: ignore[union-attr]
    except InputError as exc:
        return _FailedFrom(_name(source), strip_name(str(exc), _name(source)), source)
    except MemoryError:
        return _FailedFrom(_name(source), "out of memory while decoding; is the file enormous?", source)
    except Exception as exc:  # any decoder bug must not stop the other inputs
        return _FailedFrom(_name(source), f"could not be read ({type(exc).__name__}: {exc})", source)
    prepared.origin = source
    return prepared


@dataclass(frozen=True)
class _FailedFrom(FailedInput):
    """A failure that remembers the input object it belongs to (``FailedInput`` for every other use)."""

    origin: Any = None


def _failed(prepared: Prepared, reason: str) -> FailedInput:
    return _FailedFrom(prepared.source, reason, prepared.origin)


def _origin_of(entry: Prepared | FailedInput) -> Any:
    if isinstance(entry, Prepared):
        return entry.origin
    return entry.origin if isinstance(entry, _FailedFrom) else entry


def strip_name(message: str, name: str) -> str:
    """Messages name the file; results carry it separately."""
    prefix = f"{name}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def batched(
    stream: Iterable[Prepared | FailedInput], cost: Callable[[Any], int], batch_size: int
) -> Iterator[list[Prepared | FailedInput]]:
    """Group entries so a batch holds about ``batch_size`` model windows. A failure stays in its place
    among the inputs around it (so results keep input order); one with no input waiting goes alone, at once."""
    batch: list[Prepared | FailedInput] = []
    windows = 0
    for entry in stream:
        if isinstance(entry, FailedInput) and not batch:
            yield [entry]
            continue
        batch.append(entry)
        if isinstance(entry, Prepared):
            windows += cost(entry.item)
        if windows >= batch_size:
            yield batch
            batch, windows = [], 0
    if batch:
        yield batch


def encode_pairs(
    sources: Iterable[Source], model: EmbeddingModel, batch_size: int | None = None,
    workers: int | None = None, on_progress: Callable[[float], None] | None = None,
) -> Iterator[tuple[Source, Embedding | FailedInput]]:
    """``(input, result)`` per input, strictly in input order: each result travels with the very object it
    was computed from, so a consumer never pairs by counting. The result is an ``Embedding`` (raw, not
    normalized) or a ``FailedInput``. A batch the model rejects is retried one input at a time so only the
    culprit fails. ``on_progress(n)`` counts inputs done; a long input advances it by a share per chunk."""
    batch_size = batch_size or default_batch_size(model)
    advance = on_progress or (lambda n: None)
    for group in batched(prepared_stream(sources, model, workers), model.items_cost, batch_size):
        for entry in _encode_group(group, model, batch_size, advance):
            if isinstance(entry, FailedInput):
                yield _origin_of(entry), _plain(entry)
            else:
                prepared, vector = entry
                embedding = Embedding(prepared.source, model.modality, vector, model.model_id, prepared.duration)
                yield prepared.origin, embedding
        advance(sum(1 for entry in group if not _is_chunked(entry)))  # long inputs advanced chunk by chunk


def encode_stream(
    sources: Iterable[Source], model: EmbeddingModel, batch_size: int | None = None,
    workers: int | None = None, on_progress: Callable[[float], None] | None = None,
) -> Iterator[Embedding | FailedInput]:
    """One ``Embedding`` (raw, not normalized) or ``FailedInput`` per input, strictly in input order
    (``encode_pairs`` without the inputs)."""
    for _, result in encode_pairs(sources, model, batch_size, workers, on_progress):
        yield result


def _plain(failure: FailedInput) -> FailedInput:
    return FailedInput(failure.source, failure.reason) if type(failure) is not FailedInput else failure


@runtime_checkable
class Chunked(Protocol):
    """A prepared long input whose windows come chunk by chunk (``clapcli.audio.features.StreamedWindows``)."""

    def chunks(self, per_chunk: int) -> Iterator[tuple[Any, int]]: ...


def _is_chunked(entry: Prepared | FailedInput) -> bool:
    return isinstance(entry, Prepared) and isinstance(entry.item, Chunked)


def _encode_group(group: list[Prepared | FailedInput], model: EmbeddingModel, batch_size: int,
                  advance: Callable[[float], None]) -> Iterator[tuple[Prepared, np.ndarray] | FailedInput]:
    """Every entry's result in the group's order: ordinary items go through the model together, a
    chunked item goes alone, by chunks; failures keep their place."""
    ordinary = [entry for entry in group if isinstance(entry, Prepared) and not _is_chunked(entry)]
    encoded = dict(zip(map(id, ordinary), _encode_items(ordinary, model)))
    for entry in group:
        if isinstance(entry, FailedInput):
            yield entry
        elif _is_chunked(entry):
            yield _encode_chunked(entry, model, batch_size, advance)
        else:
            yield encoded[id(entry)]


def _encode_items(group: list[Prepared], model: EmbeddingModel) -> Iterator[tuple[Prepared, np.ndarray] | FailedInput]:
    if not group:
        return
    try:
        vectors = model.encode_prepared([p.item for p in group]).numpy()
    except (RuntimeError, ValueError) as exc:
        if len(group) == 1:
            yield _failed(group[0], f"the model could not process it ({first_line(exc)})")
            return
        for single in group:
            yield from _encode_items([single], model)
        return
    yield from zip(group, vectors)


def _encode_chunked(prepared: Prepared, model: EmbeddingModel, batch_size: int,
                    advance: Callable[[float], None]) -> tuple[Prepared, np.ndarray] | FailedInput:
    """The mean of a long input's window embeddings, ``batch_size`` windows per forward pass: a running
    sum of each chunk's mean times its window count. Decoding happens here, so its errors are this input's.
    Progress advances by the chunk's share of the input, so an hour-long file moves the bar too."""
    total: np.ndarray | None = None
    windows = 0
    expected = max(1, model.items_cost(prepared.item))
    try:
        with closing(read_ahead(prepared.item.chunks(batch_size))) as chunks:
            for item, count in chunks:
                chunk_sum = model.encode_prepared([item]).numpy()[0].astype(np.float64) * count
                total = chunk_sum if total is None else total + chunk_sum
                advance(max(0, min(count, expected - windows)) / expected)
                windows += count
    except InputError as exc:
        return _failed(prepared, strip_name(str(exc), prepared.source))
    except (RuntimeError, ValueError) as exc:
        return _failed(prepared, f"the model could not process it ({first_line(exc)})")
    except MemoryError:
        return _failed(prepared, "out of memory while decoding; is the file enormous?")
    finally:
        advance(max(0, expected - windows) / expected)  # the rest of its share, also when it failed
    if total is None:
        return _failed(prepared, "contains no audio samples")
    return prepared, (total / windows).astype(np.float32)


def read_ahead(items: Iterator[Any], depth: int = 1, name: str = "clapcli-decode-long") -> Iterator[Any]:
    """``items``, produced by a helper thread up to ``depth`` ahead, so decoding, resampling and log-mel
    (numpy only, like the decode threads) overlap the model's forward pass. An exception in the producer
    is raised here; when the consumer stops early, the producer stops too."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def offer(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():  # never blocks for good on a consumer that has gone
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((end, None))
        except BaseException as exc:  # handed to the consumer, which raises it as this input's failure
            offer((end, exc))

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if item is end:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
