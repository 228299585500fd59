"""Post-processing: per-window scores -> events, in four documented steps per label.

1. Median smoothing over ``smooth`` consecutive windows (odd; 1 = off), edges repeated.
2. Threshold with hysteresis: an event starts at a window scoring >= ``threshold`` and goes on
   while windows score >= ``threshold_off`` (default: ``threshold``, no hysteresis).
3. Events separated by a gap shorter than ``merge_gap`` seconds are merged into one.
4. Events shorter than ``min_duration`` seconds are dropped.

Times come from the frames of ``clapcli.audio.windows.frame_bounds``: an event covering
windows i..j runs from the start of frame i to the end of frame j, so it lies within the file.
Each event's peak and mean are over the smoothed scores of the frames it covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from clapcli.audio.windows import frame_bounds
from clapcli.errors import InvalidField
from clapcli.results import Event, FrameScores


@dataclass(frozen=True)
class PostProcessing:
    threshold: float = 0.5
    threshold_off: float | None = None
    smooth: int = 1
    merge_gap: float = 0.0
    min_duration: float = 0.0

    def check(self, low: float = 0.0, high: float = 1.0) -> PostProcessing:
        """Usage errors for values no score can meet (NaN, inf, beyond the scores' ``low``..``high``)."""
        for name, value in (("threshold", self.threshold), ("threshold_off", self.threshold_off)):
            if value is not None and not (math.isfinite(value) and low <= value <= high):
                raise InvalidField(name, f"{{{name}}} {{value:g}}: give a number from {{low:g}} to {{high:g}} (the "
                                   "range of the scores)", value=value, low=low, high=high)
        for name, value in (("merge_gap", self.merge_gap), ("min_duration", self.min_duration)):
            if not math.isfinite(value):
                raise InvalidField(name, f"{{{name}}} {{value:g}}: give a finite number of seconds", value=value)
        if self.smooth < 1 or self.smooth % 2 == 0:
            raise InvalidField("smooth", "{smooth} {value}: give an odd number of windows (1 = no smoothing)",
                               value=self.smooth)
        if self.threshold_off is not None and self.threshold_off > self.threshold:
            raise InvalidField("threshold_off", "{threshold_off} {off:g} is above {threshold} {on:g}; it must be "
                               "lower or equal (it is where an event ends)", off=self.threshold_off,
                               on=self.threshold)
        if self.merge_gap < 0 or self.min_duration < 0:
            raise InvalidField("merge_gap", "{merge_gap} and {min_duration} must be zero or more seconds")
        return self


def median_smooth(scores: np.ndarray, kernel: int) -> np.ndarray:
    """Running median over ``kernel`` (odd) rows of (n, labels) scores, edge rows repeated."""
    scores = np.asarray(scores)
    if kernel <= 1 or len(scores) == 0:
        return scores.copy()
    half = kernel // 2
    padded = np.concatenate([np.repeat(scores[:1], half, axis=0), scores, np.repeat(scores[-1:], half, axis=0)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=0)  # (n, labels, kernel)
    return np.median(windows, axis=-1).astype(scores.dtype)


def hysteresis(values: np.ndarray, on: float, off: float | None = None) -> list[tuple[int, int]]:
    """Runs ``[i, j)`` of windows: each starts at a value >= ``on`` and lasts while values >= ``off``."""
    off = on if off is None else off
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for i, value in enumerate(values):
        if start is None:
            if value >= on:
                start = i
        elif value < off:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(values)))
    return runs


def merge_gaps(segments: list[tuple[float, float]], max_gap: float) -> list[tuple[float, float]]:
    """Sorted (onset, offset) segments with gaps shorter than ``max_gap`` joined."""
    merged: list[tuple[float, float]] = []
    for onset, offset in sorted(segments):
        if merged and onset - merged[-1][1] < max_gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], offset))
        else:
            merged.append((onset, offset))
    return merged


def drop_short(segments: list[tuple[float, float]], min_duration: float) -> list[tuple[float, float]]:
    return [(on, off) for on, off in segments if off - on >= min_duration]


def detect_events(frames: FrameScores, post: PostProcessing) -> list[Event]:
    """Events of one file, sorted by onset then label order."""
    smoothed = median_smooth(frames.scores, post.smooth)
    bounds = frame_bounds(frames.starts, frames.ends, frames.duration)
    events: list[tuple[float, int, Event]] = []
    for column, label in enumerate(frames.labels):
        runs = hysteresis(smoothed[:, column], post.threshold, post.threshold_off)
        segments = [(float(bounds[i]), float(bounds[j])) for i, j in runs]
        for onset, offset in drop_short(merge_gaps(segments, post.merge_gap), post.min_duration):
            inside = _frames_within(bounds, onset, offset)
            values = smoothed[inside, column]
            event = Event(frames.source, label, onset, offset, float(values.max()), float(values.mean()))
            events.append((onset, column, event))
    return [event for _, _, event in sorted(events, key=lambda e: (e[0], e[1]))]


def _frames_within(bounds: np.ndarray, onset: float, offset: float) -> np.ndarray:
    """Indices of the frames lying inside [onset, offset]."""
    lo = int(np.searchsorted(bounds, onset, side="left"))
    hi = int(np.searchsorted(bounds, offset, side="left"))
    return np.arange(lo, max(hi, lo + 1))
