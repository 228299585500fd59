"""Each post-processing step, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from clapcli.core.detect.events import (
    PostProcessing,
    detect_events,
    drop_short,
    hysteresis,
    median_smooth,
    merge_gaps,
)
from clapcli.errors import UsageError
from clapcli.results import Event, FrameScores


def test_median_smooth_edges_repeated():
    scores = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [5.0, 0.0]], dtype=np.float32)
    smoothed = median_smooth(scores, 3)
    assert smoothed.dtype == np.float32
    assert smoothed[:, 0].tolist() == [0.0, 0.0, 0.0, 0.0, 5.0]  # the lone 1 goes; the edge 5 stays (5, 5, 0)
    assert smoothed[:, 1].tolist() == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert np.array_equal(median_smooth(scores, 1), scores)
    five = median_smooth(np.array([[1.0], [9.0], [2.0], [8.0], [3.0], [7.0]]), 5)[:, 0]
    # padded 1 1 | 1 9 2 8 3 7 | 7 7: medians of each 5-window
    assert five.tolist() == [1.0, 2.0, 3.0, 7.0, 7.0, 7.0]


def test_hysteresis_starts_high_ends_below_low():
    values = np.array([0.1, 0.6, 0.45, 0.35, 0.7, 0.2, 0.55])
    assert hysteresis(values, 0.5) == [(1, 2), (4, 5), (6, 7)]
    assert hysteresis(values, 0.5, 0.4) == [(1, 3), (4, 5), (6, 7)]
    assert hysteresis(values, 0.5, 0.1) == [(1, 7)]
    assert hysteresis(np.array([0.45, 0.45]), 0.5, 0.4) == []  # low alone never starts an event
    assert hysteresis(np.array([0.5]), 0.5) == [(0, 1)]  # at the threshold counts


def test_merge_gaps_and_drop_short():
    segments = [(5.0, 6.0), (0.0, 1.0), (1.4, 2.0), (2.5, 3.0)]
    assert merge_gaps(segments, 0.5) == [(0.0, 2.0), (2.5, 3.0), (5.0, 6.0)]  # 0.4 merged, 0.5 not
    assert merge_gaps(segments, 0.0) == sorted(segments)
    assert merge_gaps(segments, 10.0) == [(0.0, 6.0)]
    assert drop_short([(0.0, 2.0), (2.5, 3.0), (5.0, 6.0)], 1.0) == [(0.0, 2.0), (5.0, 6.0)]


def _frames(column_a, column_b, hop=1.0):
    n = len(column_a)
    starts = np.arange(n) * hop
    return FrameScores("x.wav", ["a", "b"], starts, starts + hop, np.array([column_a, column_b],
                       dtype=np.float32).T, n * hop)


def test_detect_events_all_steps_and_scores():
    frames = _frames([0.9, 0.8, 0.1, 0.7, 0.2, 0.2, 0.6, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9])
    events = detect_events(frames, PostProcessing(0.5))
    assert events == [Event("x.wav", "a", 0.0, 2.0, pytest.approx(0.9), pytest.approx(0.85)),
                      Event("x.wav", "a", 3.0, 4.0, pytest.approx(0.7), pytest.approx(0.7)),
                      Event("x.wav", "a", 6.0, 7.0, pytest.approx(0.6), pytest.approx(0.6)),
                      Event("x.wav", "b", 7.0, 8.0, pytest.approx(0.9), pytest.approx(0.9))]
    merged = detect_events(frames, PostProcessing(0.5, merge_gap=1.5, min_duration=2.0))
    # a: 0-2 and 3-4 joined (gap 1) -> 0-4 (mean over the four frames), 6-7 alone and too short; b too short
    assert [(e.label, e.onset, e.offset) for e in merged] == [("a", 0.0, 4.0)]
    assert merged[0].mean == pytest.approx((0.9 + 0.8 + 0.1 + 0.7) / 4)
    smoothed = detect_events(frames, PostProcessing(0.5, smooth=3))
    # a smoothed: 0.9 0.8 0.7 0.2 0.2 0.2 0.2 0.1 (the dip at 2 s filled, the lone 0.6 gone); b's last
    # window survives at the edge (0.1 0.9 0.9)
    assert [(e.label, e.onset, e.offset) for e in smoothed] == [("a", 0.0, 3.0), ("b", 7.0, 8.0)]


def test_post_processing_checks():
    for bad, message in [(PostProcessing(smooth=2), "odd"), (PostProcessing(0.5, 0.6), "threshold_off"),
                         (PostProcessing(merge_gap=-1), "zero or more")]:
        with pytest.raises(UsageError, match=message):
            bad.check()
