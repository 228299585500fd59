"""PSDS from the scores (``clap detect --reference``): sed_scores_eval on the frames each window speaks
for. A perfect score track gives 1, one that fires only outside the events 0; with non-overlapping windows
our frames are the windows themselves, and the value equals sed_scores_eval called on them directly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_model import LABELS, SCENE

from clapcli.core.detect.evaluate import load_sed_eval
from clapcli.core.detect.psds import _writable, psds
from clapcli.results import FrameScores

HOP = 0.25


def _frames(scores: np.ndarray, window: float, hop: float, duration: float) -> FrameScores:
    starts = np.arange(scores.shape[0]) * hop
    return FrameScores("a.wav", ["dog", "cat"], starts, starts + window, scores.astype(np.float32), duration)


def _track(duration: float, step: float, events: list[tuple[float, float, str]], inside: float, outside: float):
    centres = np.arange(0, duration, step) + step / 2
    scores = np.full((centres.size, 2), outside)
    for onset, offset, label in events:
        column = ["dog", "cat"].index(label)
        scores[(centres > onset) & (centres < offset), column] = inside
    return scores


EVENTS = [(1.0, 3.0, "dog"), (5.0, 6.5, "cat"), (8.0, 9.0, "dog")]


def test_a_perfect_track_scores_one_and_an_inverted_one_zero():
    perfect = psds({"a.wav": _frames(_track(10, 0.5, EVENTS, 0.9, 0.1), 0.5, 0.5, 10.0)}, {"a.wav": EVENTS})
    inverted = psds({"a.wav": _frames(_track(10, 0.5, EVENTS, 0.1, 0.9), 0.5, 0.5, 10.0)}, {"a.wav": EVENTS})
    assert perfect["psds1"]["value"] == pytest.approx(1.0) and perfect["psds2"]["value"] == pytest.approx(1.0)
    assert inverted["psds1"]["value"] == pytest.approx(0.0)
    # PSDS2 is lenient by design (dtc = gtc = 0.1): at the lowest threshold the whole file is one detection per
    # class, which covers every event and is 30% on target, so it counts as a hit with no false positive.
    assert inverted["psds2"]["value"] == pytest.approx(1.0)
    assert set(perfect["psds1"]["per_label"]) == {"cat", "dog"}


def test_equals_sed_scores_eval_on_the_windows_when_they_do_not_overlap():
    load_sed_eval()
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    rng = np.random.default_rng(3)
    scores = np.clip(_track(10, 0.5, EVENTS, 0.7, 0.3) + 0.25 * rng.standard_normal((20, 2)), 0, 1)
    ours = psds({"a.wav": _frames(scores, 0.5, 0.5, 10.0)}, {"a.wav": EVENTS})
    table = _writable(create_score_dataframe(scores[:, [1, 0]], np.arange(21) * 0.5, ["cat", "dog"]))
    for name in ("psds1", "psds2"):
        point = {k: ours[name][k] for k in ("dtc_threshold", "gtc_threshold", "cttc_threshold", "alpha_ct",
                                            "alpha_st")}
        direct, *_ = intersection_based.psds({"a.wav": table}, {"a.wav": EVENTS}, {"a.wav": 10.0},
                                             max_efpr=100.0, unit_of_time="hour", **point)
        assert ours[name]["value"] == pytest.approx(float(direct), abs=1e-12)


def test_overlapping_windows_speak_for_the_time_between_their_neighbours():
    """1 s windows every 0.25 s: each frame is the 0.25 s around its window's centre, the events' grid."""
    duration, window, hop = 10.0, 1.0, 0.25
    starts = np.arange(0, duration - window + 1e-9, hop)
    centres = starts + window / 2
    scores = np.zeros((starts.size, 2))
    for onset, offset, label in EVENTS:
        scores[(centres > onset) & (centres < offset), ["dog", "cat"].index(label)] = 1.0
    frames = FrameScores("a.wav", ["dog", "cat"], starts, starts + window, scores.astype(np.float32), duration)
    assert psds({"a.wav": frames}, {"a.wav": EVENTS})["psds1"]["value"] > 0.9


def test_cli_metrics_carry_psds(cli, fake_model, scenes, tmp_path):
    rows = "".join(f"scene.wav\t{onset}\t{offset}\t{label}\n" for label, onset, offset in SCENE)
    reference = tmp_path / "ref.tsv"
    reference.write_text("filename\tonset\toffset\tevent_label\n" + rows)
    target = tmp_path / "metrics.json"
    result = cli(["detect", scenes["scene"], "--labels", LABELS, "--window", "1", "--hop", str(HOP), "-f", "csv",
                  "--reference", reference, "--metrics", target])
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(target.read_text())
    assert set(metrics["psds1"]["per_label"]) == {label for label, _, _ in SCENE}
    assert 0.5 < metrics["psds1"]["value"] <= 1.0 and 0.0 <= metrics["psds2"]["value"] <= 1.0
    assert f"PSDS1 {metrics['psds1']['value']:.3f}, PSDS2 {metrics['psds2']['value']:.3f}" in result.stderr


def test_one_class_and_classes_only_in_files_not_scanned():
    """One reference class: no cross-triggers to count; a class whose events are all in files that were not
    scanned is not among the classes (the caller passes the scanned files' reference only)."""
    events = [(1.0, 3.0, "dog")]
    scores = _track(10, 0.5, events, 0.9, 0.1)
    found = psds({"a.wav": _frames(scores, 0.5, 0.5, 10.0)}, {"a.wav": events})
    assert found["psds2"]["value"] == pytest.approx(1.0) and found["psds2"]["cttc_threshold"] is None
