"""Polyphonic Sound Detection Score from the scores themselves, with no threshold chosen (``clap detect
--reference``), through sed_scores_eval (Ebbers et al., ICASSP 2022: PSDS computed exactly from scores).

The two operating points are the DCASE Challenge task 4 ones: PSDS1 (dtc = gtc = 0.7, no cross-trigger
penalty, alpha_st = 1: localises events precisely) and PSDS2 (dtc = gtc = 0.1, cttc = 0.3, alpha_ct = 0.5,
alpha_st = 1: tells classes apart), both up to an effective false-positive rate of 100 per hour. Each
file's scores are given per frame: window ``i`` speaks for the time between the centres of its neighbours
(``audio.windows.frame_bounds``), as the events are cut; a frame model's frames are its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from clapcli.audio.windows import frame_bounds
from clapcli.errors import missing_extra
from clapcli.results import FrameScores

OPERATING_POINTS = {
    "psds1": {"dtc_threshold": 0.7, "gtc_threshold": 0.7, "cttc_threshold": None, "alpha_ct": 0.0, "alpha_st": 1.0},
    "psds2": {"dtc_threshold": 0.1, "gtc_threshold": 0.1, "cttc_threshold": 0.3, "alpha_ct": 0.5, "alpha_st": 1.0},
}
MAX_EFPR = 100.0  # effective false positives per hour


def score_frame(frames: FrameScores, classes: Sequence[str]):  # noqa: ANN201 - a pandas DataFrame
    """One file's scores as sed_scores_eval takes them: non-overlapping frames (onset, offset) and one column
    per class (0 for a class that was not scored: it can only be missed)."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    bounds = frame_bounds(frames.starts, frames.ends, frames.duration)
    keep = np.flatnonzero(np.diff(bounds) > 0)  # windows past the end speak for no time
    columns = {label: index for index, label in enumerate(frames.labels)}
    table = np.zeros((keep.size, len(classes)), dtype=np.float64)
    for position, label in enumerate(classes):
        if label in columns:
            table[:, position] = frames.scores[keep, columns[label]]
    stamps = np.concatenate([bounds[keep], [bounds[keep[-1] + 1]]]) if keep.size else np.array([0.0, 0.0])
    return _writable(create_score_dataframe(table, stamps, list(classes)))


def _writable(frame):  # noqa: ANN001, ANN202 - pandas DataFrames
    """``frame`` as a DataFrame whose ``to_numpy()`` is writable. Under pandas 3's copy-on-write it returns a
    read-only view, which sed_scores_eval 0.0.4's Cython code refuses ("buffer source array is read-only")."""
    class WritableFrame(type(frame)):  # type: ignore[misc] - pandas.DataFrame, as sed_scores_eval made it
        @property
        def _constructor(self):  # noqa: ANN202 - column selections stay of this class
            return WritableFrame

        def to_numpy(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            array = super().to_numpy(*args, **kwargs)
            return array if array.flags.writeable else array.copy()

    return WritableFrame(frame)


def psds(frames: Mapping[str, FrameScores], reference: Mapping[str, Sequence[tuple[float, float, str]]],
         ) -> dict:
    """PSDS1 and PSDS2 (overall and per class) of ``frames`` (reference name -> the file's scores) against
    ``reference`` (name -> (onset, offset, label) events). Classes are the reference's: a class with no
    reference event has no true-positive rate to measure."""
    from clapcli.core.detect.evaluate import load_sed_eval

    load_sed_eval()  # sed_scores_eval imports sed_eval, which needs its stand-in
    try:
        from sed_scores_eval import intersection_based
    except ImportError:
        raise missing_extra("sed_scores_eval", "eval") from None

    classes = sorted({label for name in frames for _, _, label in reference.get(name, ())})
    if not classes or not frames:
        return {name: None for name in OPERATING_POINTS}
    scores = {name: score_frame(frames[name], classes) for name in frames}
    truth = {name: [(float(on), float(off), label) for on, off, label in reference.get(name, ())] for name in frames}
    durations = {name: float(frames[name].duration) for name in frames}
    result: dict = {}
    for name, point in OPERATING_POINTS.items():
        if len(classes) == 1:  # no other class to cross-trigger (and sed_scores_eval 0.0.4 fails on it)
            point = {**point, "cttc_threshold": None, "alpha_ct": 0.0}
        value, per_class, *_ = intersection_based.psds(scores, truth, durations, unit_of_time="hour",
                                                       max_efpr=MAX_EFPR, **point)
        result[name] = {"value": float(value), "per_label": {k: float(v) for k, v in per_class.items()},
                        **{k: v for k, v in point.items()}, "max_efpr": MAX_EFPR}
    return result
