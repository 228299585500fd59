"""Embed the windows of files: every window of every file through the streaming engine (the same
decode threads and batching as ``clap embed``), its normalized embedding kept with its times. Used by
``clap detect`` (windows scored against labels), segment libraries (``clap embed --segments``) and the
server's segment collections.

Files are opened and cut into windows block by block in a helper thread (a 3-hour file is never held
whole); each window enters the pipeline as an in-memory input carrying its place in the file, so its
features are computed in the decode threads while the model runs, and its result is placed by that
tag, never by counting results. Window geometry lives in ``clapcli.audio.windows``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clapcli.audio.windows import cut_windows, grid_starts, window_samples
from clapcli.core.pipeline import ArrayInput, encode_pairs, read_ahead, strip_name
from clapcli.core.text import l2_normalize
from clapcli.errors import InputError, UsageError
from clapcli.models.base import EmbeddingModel
from clapcli.results import FailedInput


@dataclass
class WindowSpec:
    window: float | None = None  # seconds; None: the model's window
    hop: float | None = None  # seconds; None: half the window
    names: tuple[str, str] = ("window", "hop")  # the fields they came from, for messages (errors.InvalidField)

    def samples(self, model: EmbeddingModel) -> tuple[int, int]:
        rate = int(model.sample_rate or 0)
        if not rate:
            raise UsageError(f"'{model.model_id}' is not an audio model; clap detect needs one")
        window = self.window if self.window is not None else float(model.window_seconds or 10.0)
        size = window_samples(window, rate, self.names[0])
        hop = window_samples(self.hop if self.hop is not None else window / 2, rate, self.names[1])
        return size, hop


@dataclass
class _Tag:
    """What the pipeline's i-th result belongs to: window ``index`` of file ``file``, or its failure."""

    file: int
    index: int = -1  # -1: a FailedInput for the whole file
    count: int = 0  # windows of the file (set on the first window)
    start: float = 0.0
    end: float = 0.0
    duration: float = 0.0


def window_embeddings(model: EmbeddingModel, files: Iterable[Path | FailedInput], spec: WindowSpec,
                      batch_size: int | None = None, workers: int | None = None,
                      on_progress: Callable[[float], None] | None = None) -> Iterator[WindowRows | FailedInput]:
    """Per readable file: its windows' normalized embeddings (``rows``, (n, dim)) with their times."""
    yield from per_window(model, files, spec, model.embedding_dim, lambda v: v, batch_size, workers, on_progress)


def per_window(model: EmbeddingModel, files: Iterable[Path | FailedInput], spec: WindowSpec, width: int,
                transform: Callable[[np.ndarray], np.ndarray], batch_size: int | None, workers: int | None,
                on_progress: Callable[[float], None] | None) -> Iterator[WindowRows | FailedInput]:
    """Each window's result is placed by the tag its own input carries, never by counting results."""
    size, hop = spec.samples(model)
    sources = read_ahead(_window_sources(files, model, size, hop), depth=16, name="clapcli-windows")
    current: WindowRows | None = None
    failed: set[int] = set()
    for source, result in encode_pairs(sources, model, batch_size, workers):
        tag: _Tag = source.tag
        if current is not None and tag.file != current.file:
            yield from current.finish(failed)
            current = None
        if isinstance(result, FailedInput):
            if tag.file not in failed:
                failed.add(tag.file)
                yield result
            if on_progress is not None and tag.index < 0 and current is None:
                on_progress(1.0)
            continue
        if current is None:
            current = WindowRows(tag.file, result.source, tag.count, tag.duration, width)
        if tag.file not in failed:
            current.add(tag, transform(l2_normalize(result.vector[None])))
        if on_progress is not None:
            on_progress(1.0 / tag.count)
    if current is not None:
        yield from current.finish(failed)


@dataclass(frozen=True)
class _FileFailure(FailedInput):
    """A file that could not be cut into windows, tagged like its windows would be."""

    tag: _Tag | None = None


class WindowRows:
    """One file's per-window rows (scores or embeddings) while they are collected."""

    def __init__(self, file: int, source: str, count: int, duration: float, width: int) -> None:
        self.file, self.source, self.duration = file, source, duration
        self.starts = np.zeros(count)
        self.ends = np.zeros(count)
        self.rows = np.zeros((count, width), dtype=np.float32)
        self.filled = 0

    def add(self, tag: _Tag, row: np.ndarray) -> None:
        self.starts[tag.index], self.ends[tag.index] = tag.start, tag.end
        self.rows[tag.index] = row[0]
        self.filled += 1

    def finish(self, failed: set[int]) -> Iterator[WindowRows]:
        if self.file in failed or self.filled < len(self.starts):
            return
        yield self


def _window_sources(files: Iterable[Path | FailedInput], model: EmbeddingModel, size: int,
                    hop: int) -> Iterator[ArrayInput | FailedInput]:
    """Every window of every file as an in-memory input at the model's rate, each tagged with its place."""
    from clapcli.audio.decode import open_audio

    rate = int(model.sample_rate)  # type: ignore[arg-type]
    for number, path in enumerate(files):
        if isinstance(path, FailedInput):
            yield _FileFailure(path.source, path.reason, _Tag(number))
            continue
        name = str(path)
        try:
            stream = open_audio(path, rate)
            starts = grid_starts(stream.length, size, hop)
            for index, samples in enumerate(cut_windows(stream.blocks(), starts, size, stream.length)):
                start = int(starts[index])
                tag = _Tag(number, index, len(starts), start / rate, (start + len(samples)) / rate, stream.duration)
                yield ArrayInput(name, samples, rate, tag)
        except InputError as exc:
            yield _FileFailure(name, strip_name(str(exc), name), _Tag(number))
        except (ValueError, MemoryError) as exc:
            yield _FileFailure(name, f"could not be read ({type(exc).__name__}: {exc})", _Tag(number))
