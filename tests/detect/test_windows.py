"""Window geometry, streaming cuts and frame bounds, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from clapcli.audio.windows import cut_windows, frame_bounds, grid_starts, window_samples
from clapcli.errors import UsageError


def test_grid_regular_with_a_last_window_ending_at_the_end():
    assert grid_starts(100, 40, 20).tolist() == [0, 20, 40, 60]  # 60 + 40 = 100: the grid reaches the end
    assert grid_starts(110, 40, 20).tolist() == [0, 20, 40, 60, 70]  # one more, ending at 110
    assert grid_starts(100, 40, 50).tolist() == [0, 50, 60]  # hop > window: gaps, last window at the end
    assert grid_starts(30, 40, 20).tolist() == [0]  # shorter than a window: the whole file
    assert grid_starts(40, 40, 20).tolist() == [0]


@pytest.mark.parametrize("block", [1, 7, 33, 1000])
@pytest.mark.parametrize("size,hop", [(40, 20), (40, 40), (40, 55), (25, 3)])
def test_cut_windows_from_blocks_equal_slices(block, size, hop):
    clip = np.arange(203, dtype=np.float32)
    starts = grid_starts(len(clip), size, hop)
    blocks = (clip[i : i + block] for i in range(0, len(clip), block))
    windows = list(cut_windows(blocks, starts, size, len(clip)))
    assert len(windows) == len(starts)
    for start, window in zip(starts, windows):
        assert np.array_equal(window, clip[start : start + size])


def test_cut_windows_short_clip_and_truncated_stream():
    clip = np.arange(10, dtype=np.float32)
    assert [w.tolist() for w in cut_windows([clip[:4], clip[4:]], np.array([0]), 40, 10)] == [clip.tolist()]
    with pytest.raises(ValueError, match="ended before its window"):
        list(cut_windows([clip[:50]], np.array([0, 20, 60]), 40, 100))


def test_frame_bounds_half_way_between_centres_clipped_to_the_file():
    starts = np.array([0.0, 0.5, 1.0, 1.2])
    ends = starts + 1.0
    bounds = frame_bounds(starts, ends, 2.2)
    assert np.allclose(bounds, [0.0, 0.75, 1.25, 1.6, 2.2])
    assert frame_bounds(np.array([0.0]), np.array([0.7]), 0.7).tolist() == [0.0, 0.7]


def test_window_samples_rejects_nonsense():
    assert window_samples(0.5, 8000, "--hop") == 4000
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(UsageError, match="--window"):
            window_samples(bad, 8000, "--window")
    with pytest.raises(UsageError, match="shorter than one sample"):
        window_samples(1e-6, 8000, "--hop")
