"""clap detect with the frame-level PE-Audio model: the model's own 40 ms frames, sigmoid per label."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from pe_models import reference_frames

LABELS = ["dog barking", "siren", "speech"]
HOP = 1920 / 48_000


def _detect(cli, model: Path, *args):
    return cli(["detect", *args, "--model", model, "--labels", ",".join(LABELS), "--runtime", "torch"])


def test_frame_scores_equal_the_frame_model(cli, tiny_pe_frame, pe_clips, tmp_path) -> None:
    frames = tmp_path / "frames.parquet"
    result = _detect(cli, tiny_pe_frame, pe_clips["noise"], pe_clips["tone"], "-f", "csv", "--frames", frames)
    assert result.exit_code == 0, result.stderr
    table = pq.read_table(frames).to_pylist()
    for name in ("noise", "tone"):
        rows = [r for r in table if r["path"] == str(pe_clips[name])]
        expected = reference_frames(tiny_pe_frame, pe_clips[name], LABELS)
        assert len(rows) == len(expected)  # one row per model frame, the last one into the padding
        np.testing.assert_allclose([[r[label] for label in LABELS] for r in rows], expected, atol=1e-5)
        np.testing.assert_allclose([r["start"] for r in rows], np.arange(len(rows)) * HOP, atol=1e-9)
        np.testing.assert_allclose([r["end"] for r in rows], (np.arange(len(rows)) + 1) * HOP, atol=1e-9)


def test_events_come_from_the_same_post_processing(cli, tiny_pe_frame, pe_clips) -> None:
    from clapcli.core.detect import PostProcessing, detect_events
    from clapcli.results import FrameScores

    expected_scores = reference_frames(tiny_pe_frame, pe_clips["noise"], LABELS)
    threshold = float(np.median(expected_scores))  # some frames above, some below
    result = _detect(cli, tiny_pe_frame, pe_clips["noise"], "-f", "json", "--threshold", f"{threshold:.9f}",
                     "--smooth", "3")
    assert result.exit_code == 0, result.stderr
    got = [(e["label"], e["onset"], e["offset"]) for e in json.loads(result.stdout)]
    n = len(expected_scores)
    starts = np.arange(n) * HOP
    frames = FrameScores(str(pe_clips["noise"]), LABELS, starts, starts + HOP, expected_scores.astype(np.float32),
                         2.3)
    events = detect_events(frames, PostProcessing(float(f"{threshold:.9f}"), smooth=3))
    assert events, "the threshold should leave some events"
    assert got == [(e.label, pytest.approx(e.onset, abs=1e-3), pytest.approx(e.offset, abs=1e-3)) for e in events]
    assert max(offset for _, _, offset in got) <= 2.3 + 1e-9  # clipped to the file


def test_a_long_file_goes_through_in_pieces(cli, tiny_pe_frame, pe_clips, monkeypatch, tmp_path) -> None:
    """Beyond the model's longest clip, a file is scored in consecutive pieces cut at frame boundaries."""
    import clapcli.models.pe_windows as pe_windows

    monkeypatch.setattr(pe_windows, "MAX_SECONDS", 0.8)  # 20 frames per piece
    frames = tmp_path / "frames.csv"
    result = _detect(cli, tiny_pe_frame, pe_clips["noise"], "-f", "csv", "--frames", frames)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(frames.read_text())))
    assert len(rows) == -(-int(2.3 * 48_000) // 1920)  # every frame once
    first_piece = reference_frames(tiny_pe_frame, pe_clips["noise"], LABELS, seconds=0.8)
    np.testing.assert_allclose([[float(r[label]) for label in LABELS] for r in rows[:20]], first_piece, atol=1e-5)
    assert [float(r["start"]) for r in rows[18:22]] == pytest.approx([0.72, 0.76, 0.80, 0.84])


def test_reference_metrics_work_on_frames(cli, tiny_pe_frame, pe_clips, tmp_path) -> None:
    reference = tmp_path / "ref.tsv"
    reference.write_text("filename\tonset\toffset\tevent_label\nnoise.wav\t0.5\t1.5\tsiren\n")
    metrics = tmp_path / "metrics.json"
    result = _detect(cli, tiny_pe_frame, pe_clips["noise"], "-f", "csv", "--threshold", "0.5",
                     "--reference", reference, "--metrics", metrics)
    assert result.exit_code == 0, result.stderr
    figures = json.loads(metrics.read_text())
    assert "event_based" in figures and "segment_based" in figures


@pytest.mark.parametrize("option", [["--window", "2"], ["--hop", "1"], ["--mode", "softmax"],
                                    ["--background", "noise"]])
def test_window_options_are_refused_for_a_frame_model(cli, tiny_pe_frame, pe_clips, option) -> None:
    result = _detect(cli, tiny_pe_frame, pe_clips["tone"], *option)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and option[0] in line and "40 ms frames" in line


def test_a_clip_level_pe_model_is_refused_in_one_line(cli, tiny_pe, pe_clips) -> None:
    result = _detect(cli, tiny_pe, pe_clips["tone"])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "pe-a-frame-base" in line


def test_plot_draws_the_frame_scores(cli, tiny_pe_frame, pe_clips, tmp_path) -> None:
    from PIL import Image

    target = tmp_path / "timeline.png"
    result = _detect(cli, tiny_pe_frame, pe_clips["noise"], "-f", "csv", "--plot", target)
    assert result.exit_code == 0, result.stderr
    with Image.open(target) as image:
        assert image.format == "PNG"
