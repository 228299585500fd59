"""Waveform thumbnails: the min and max sample of each column of a library file, for the page.

The file is the one ``LibraryState.audio_file`` would stream (same folder, extension and content-hash
checks), decoded by the CLI's streamed decoder at its own rate and mixed to mono, block by block, so
a long file never sits in memory whole. Sample ``s`` of ``n`` falls in column ``s * width // n``.
Answers are kept in a bounded LRU keyed by the content hash the library recorded (a changed file
fails the hash check before the cache is consulted, so a stale entry is never served).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

MAX_WIDTH = 2000  # columns per answer: a thumbnail, not a waveform editor
CACHE_ENTRIES = 2048  # ~2048 x 2 x MAX_WIDTH floats at worst (~32 MB); typical widths are ~100


def column_peaks(path: Path, width: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(mins, maxs, duration in seconds) of ``path`` over ``min(width, samples)`` columns."""
    from clapcli.audio.decode import open_audio

    stream = open_audio(path, None)
    n = stream.length
    width = max(1, min(width, n))
    low = np.full(width, np.inf, dtype=np.float32)
    high = np.full(width, -np.inf, dtype=np.float32)
    position = 0
    for block in stream.blocks():
        columns = np.arange(position, position + len(block), dtype=np.int64) * width // n
        starts = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]])
        np.minimum.at(low, columns[starts], np.minimum.reduceat(block, starts))
        np.maximum.at(high, columns[starts], np.maximum.reduceat(block, starts))
        position += len(block)
    return low, high, stream.duration


class PeakCache:
    """``(content hash, width) -> peaks``, least recently used dropped beyond ``entries``."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, int], tuple[np.ndarray, np.ndarray, float]] = OrderedDict()

    def get(self, path: Path, digest: str, width: int) -> tuple[np.ndarray, np.ndarray, float]:
        key = (digest, width)
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        found = column_peaks(path, width)  # outside the lock: other thumbnails keep coming
        with self._lock:
            self._data[key] = found
            while len(self._data) > self.entries:
                self._data.popitem(last=False)
        return found

    def __len__(self) -> int:
        return len(self._data)
