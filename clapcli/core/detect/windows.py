"""Where detection windows fall in a file, how they are cut from its block stream, and which
stretch of time each window's score speaks for.

Windows of ``size`` samples start every ``hop`` samples from 0. When that grid does not reach the
file's end, one last window is added that ends exactly at the end (a full window, not a sliver), so
every sample is covered and every window is as long as asked. A file no longer than one window is
one window, the whole file. Each window is what ``clap classify`` would see if the window were cut
out and saved as its own file.

A window's score is attributed to the stretch of time nearest its centre: frame boundaries lie
half-way between consecutive window centres, the first frame starts at 0 and the last ends at the
file's end. Events are unions of frames, so their onsets and offsets fall within half a hop of
the true ones for a window that responds to what it contains, and are clipped to the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from clapcli.errors import UsageError


def window_samples(seconds: float, sample_rate: int, what: str) -> int:
    """Seconds -> a positive number of samples, or a usage error naming the option."""
    if not np.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"{what} {seconds:g}: give a positive number of seconds")
    samples = int(round(seconds * sample_rate))
    if samples < 1:
        raise UsageError(f"{what} {seconds:g}: shorter than one sample at {sample_rate} Hz")
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
