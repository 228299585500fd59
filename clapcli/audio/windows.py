"""Where windows fall in a clip, in samples: the one home of window geometry.

- Model windows of long audio (``window_starts``): ``--long-audio mean|head|center`` positions, cut
  from a clip's block stream chunk by chunk (``stream_windows``, ``StreamedWindows``); a clip shorter
  than a window is repeat-padded (``repeat_pad``), as the reference does.
- Fused LAION crops (``crop_starts``): the front, middle and back crops of a long clip's mel.
- Grids of windows every hop (``grid_starts``, ``cut_windows``) for ``clap detect`` and segment
  libraries. Windows of ``size`` samples start every ``hop`` samples from 0; when that grid does not
  reach the clip's end, one last full window ends exactly at the end, so every sample is covered and
  every window is as long as asked. A clip no longer than one window is one window, the whole clip.
  Each window is what ``clap classify`` would see if it were cut out and saved as its own file.
- Which stretch of time a grid window's score speaks for (``frame_bounds``): frame boundaries lie
  half-way between consecutive window centres, the first frame starts at 0 and the last ends at the
  clip's end. Events are unions of frames, so their onsets and offsets fall within half a hop of the
  true ones for a window that responds to what it contains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clapcli.errors import InvalidField


def repeat_pad(samples: np.ndarray, length: int) -> np.ndarray:
    """Short clip -> ``length`` samples: repeat whole copies, then zero-pad (the reference's repeatpad)."""
    if len(samples) >= length:
        return samples[:length]
    repeats = length // len(samples)
    tiled = np.tile(samples, repeats)
    return np.pad(tiled, (0, length - len(tiled)))


def window_starts(n_samples: int, window: int, strategy: str) -> list[int]:
    """Deterministic window positions for audio longer than one window."""
    if n_samples <= window:
        return [0]
    if strategy == "head":
        return [0]
    if strategy == "center":
        return [(n_samples - window) // 2]
    # "mean": evenly spaced full windows covering the clip (the last one ends at the clip's end).
    count = -(-n_samples // window)
    return [round(i * (n_samples - window) / (count - 1)) for i in range(count)]


def stream_windows(blocks: Iterable[np.ndarray], starts: Sequence[int], size: int,
                   per_chunk: int) -> Iterator[np.ndarray]:
    """(count, size) float32 arrays of the windows at ``starts`` (sorted), ``per_chunk`` at a time,
    cut from a clip given in blocks. Holds one chunk plus about one window and one block of samples,
    whatever the clip's length; stops reading once the last window is complete."""
    remaining = list(starts)
    buffer = np.empty(0, dtype=np.float32)
    offset = 0  # clip index of buffer[0]
    chunk = np.empty((min(per_chunk, len(remaining)), size), dtype=np.float32)
    filled = 0
    for block in blocks:
        if not remaining:
            break
        buffer = np.concatenate([buffer, block])
        drop = min(remaining[0] - offset, len(buffer))  # samples before the next window are done with
        buffer, offset = buffer[drop:], offset + drop
        while remaining and remaining[0] + size <= offset + len(buffer):
            chunk[filled] = buffer[remaining[0] - offset : remaining[0] - offset + size]
            filled += 1
            remaining.pop(0)
            if filled == len(chunk):
                yield chunk
                chunk = np.empty((min(per_chunk, len(remaining)), size), dtype=np.float32)
                filled = 0
    if remaining:
        raise ValueError(f"the clip ended before its window at sample {remaining[0]}")


@dataclass(frozen=True)
class StreamedWindows:
    """A long clip's model windows, cut from its stream only when encoded, chunk by chunk: memory
    stays flat in the clip's length. ``to_item`` turns (count, size) windows into the model's
    ordinary prepared item (numpy only: chunks may be cut in a decode thread)."""

    blocks: Callable[[], Iterator[np.ndarray]]
    starts: tuple[int, ...]
    size: int
    to_item: Callable[[np.ndarray], Any]

    @property
    def cost(self) -> int:
        return len(self.starts)

    def chunks(self, per_chunk: int) -> Iterator[tuple[Any, int]]:
        """(item, windows in it) for consecutive chunks of at most ``per_chunk`` windows."""
        for windows in stream_windows(self.blocks(), self.starts, self.size, per_chunk):
            yield self.to_item(windows), len(windows)


def crop_starts(total: int, chunk_frames: int) -> list[int]:
    """First frames of the front, middle and back crops: the middle of each third of the possible
    starts (the reference picks them at random; the middle keeps results deterministic)."""
    positions = np.array_split(np.arange(0, total - chunk_frames + 1), 3)
    return [int(part[len(part) // 2]) if len(part) else 0 for part in positions]


def window_samples(seconds: float, sample_rate: int, field: str) -> int:
    """Seconds -> a positive number of samples, or an ``InvalidField`` naming ``field`` (``window``, ``hop``)."""
    if not np.isfinite(seconds) or seconds <= 0:
        raise InvalidField(field, f"{{{field}}} {{seconds:g}}: give a positive number of seconds", seconds=seconds)
    samples = int(round(seconds * sample_rate))
    if samples < 1:
        raise InvalidField(field, f"{{{field}}} {{seconds:g}}: shorter than one sample at {sample_rate} Hz",
                           seconds=seconds)
    return samples


def grid_starts(length: int, size: int, hop: int) -> np.ndarray:
    """Start samples of the windows over a clip of ``length`` samples (see the module docstring)."""
    if length <= size:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - size + 1, hop, dtype=np.int64)
    if starts[-1] + size < length:
        starts = np.append(starts, length - size)
    return starts


def cut_windows(blocks: Iterable[np.ndarray], starts: np.ndarray, size: int, length: int) -> Iterator[np.ndarray]:
    """Each window's samples (a fresh float32 array, ``min(size, length)`` long), in order, cut from a
    clip given in blocks. Holds about one window plus one block whatever the clip's length; windows
    may overlap (hop < size) or leave gaps (hop > size)."""
    size = min(size, length)
    buffer = np.empty(0, dtype=np.float32)
    offset = 0  # clip index of buffer[0]
    index = 0
    for block in blocks:
        buffer = np.concatenate([buffer, np.asarray(block, dtype=np.float32)])
        while index < len(starts) and starts[index] + size <= offset + len(buffer):
            begin = int(starts[index]) - offset
            yield buffer[begin : begin + size].copy()
            index += 1
        keep_from = (int(starts[index]) if index < len(starts) else offset + len(buffer)) - offset
        keep_from = max(0, min(keep_from, len(buffer)))
        buffer, offset = buffer[keep_from:], offset + keep_from
        if index == len(starts):
            return
    if index < len(starts):
        raise ValueError(f"the clip ended before its window at sample {int(starts[index])}")


def frame_bounds(starts: np.ndarray, ends: np.ndarray, duration: float) -> np.ndarray:
    """(n + 1,) boundaries in seconds: frame ``i`` (window ``i``'s share of time) spans
    ``bounds[i]``..``bounds[i + 1]``; half-way between window centres, from 0 to ``duration``."""
    centres = (np.asarray(starts, dtype=np.float64) + np.asarray(ends, dtype=np.float64)) / 2
    inner = (centres[:-1] + centres[1:]) / 2
    return np.concatenate([[0.0], np.clip(inner, 0.0, duration), [duration]])
