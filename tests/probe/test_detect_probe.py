"""``clap detect --probe``: every window's scores are the probe applied to that window's embedding (the window
cut out and embedded on its own), the same post-processing and formats; the refusals in one line each."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf
from eval_data import clip

from clapcli.audio.decode import load_audio
from clapcli.core.detect import PostProcessing, detect_events
from clapcli.core.probe.store import load_probe
from clapcli.results import FrameScores


@pytest.fixture(scope="module")
def trained(cli, tiny_clap, tone_folders, tmp_path_factory):
    out = tmp_path_factory.mktemp("detect-probe") / "probe"
    result = cli(["train", tone_folders, "-o", out, "-m", tiny_clap, "-q"])
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """The three tone classes one after another, 0.4 s each, twice: 2.4 s at 16 kHz."""
    path = tmp_path_factory.mktemp("detect-probe-audio") / "tones.wav"
    sf.write(path, np.concatenate([clip(kind, 50 + kind) for kind in (0, 3, 6, 6, 3, 0)]), 16000, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def cli():
    from typer.testing import CliRunner

    from clapcli.cli import app

    runner = CliRunner()
    return lambda args: runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_window_scores_are_the_probe_on_each_window(cli, tiny_clap, trained, recording, tmp_path):
    frames = tmp_path / "frames.csv"
    windows = ["--window", "0.8", "--hop", "0.4"]
    result = cli(["detect", recording, "--probe", trained, *windows, "--frames", frames, "-f", "json", "-q"])
    assert result.exit_code == 0, result.stderr  # no --model: the probe's
    probe = load_probe(trained)
    rows = list(csv.DictReader(io.StringIO(frames.read_text())))
    assert list(rows[0])[3:] == probe.classes and len(rows) == 5  # path, start, end, then the probe's classes
    samples = load_audio(recording, 48000).samples  # what the model sees
    cut = []
    for number, row in enumerate(rows):
        start, end = round(float(row["start"]) * 48000), round(float(row["end"]) * 48000)
        cut.append(tmp_path / f"window{number}.wav")
        sf.write(cut[-1], samples[start:end], 48000, subtype="FLOAT")
    embedded = cli(["embed", *cut, "-m", tiny_clap, "-f", "jsonl", "-q"])
    assert embedded.exit_code == 0, embedded.stderr
    vectors = {r["path"]: np.array(r["embedding"]) for r in map(json.loads, embedded.stdout.splitlines())}
    expected = probe.probabilities(np.stack([vectors[str(path)] for path in cut]))
    got = np.array([[float(row[name]) for name in probe.classes] for row in rows])
    np.testing.assert_allclose(got, expected, atol=1e-5)

    # the events: the usual post-processing of those scores (a threshold that leaves some events)
    values = np.unique(got)  # halfway between two scores: no score sits on the threshold
    threshold = f"{float(values[len(values) // 2 - 1] + values[len(values) // 2]) / 2:.9f}"
    again = cli(["detect", recording, "--probe", trained, *windows, "--threshold", threshold, "-f", "json", "-q"])
    starts, ends = (np.array([float(r[key]) for r in rows]) for key in ("start", "end"))
    scores = FrameScores(str(recording), probe.classes, starts, ends, expected.astype(np.float32), 2.4)
    events = detect_events(scores, PostProcessing(float(threshold)))
    listed = json.loads(again.stdout)
    assert events and {e["label"] for e in listed} <= set(probe.classes)
    assert [(e["label"], e["onset"], e["offset"]) for e in listed] == [
        (e.label, pytest.approx(e.onset, abs=1e-3), pytest.approx(e.offset, abs=1e-3)) for e in events]


def test_label_file_formats_take_the_probe_classes(cli, trained, recording, tmp_path):
    target = tmp_path / "tones.txt"
    result = cli(["detect", recording, "--probe", trained, "--window", "0.8", "--hop", "0.4", "--threshold", "0.2",
                  "-f", "audacity", "-o", target, "-q"])
    assert result.exit_code == 0, result.stderr
    labels = {line.split("\t")[2] for line in target.read_text().splitlines() if line and not line.startswith("\\")}
    assert labels and labels <= set(load_probe(trained).classes)


def test_refusals_are_one_line(cli, trained, other_tiny_clap, recording):
    other = cli(["detect", recording, "--probe", trained, "-m", other_tiny_clap, "-q"])
    assert other.exit_code == 1 and other.stderr.strip().count("\n") == 0
    assert "this probe was trained on" in other.stderr and str(other_tiny_clap) in other.stderr
    labels = cli(["detect", recording, "--probe", trained, "--labels", "a,b", "-q"])
    assert labels.exit_code == 2 and "--probe gives the labels" in labels.stderr
    mode = cli(["detect", recording, "--probe", trained, "--mode", "similarity", "-q"])
    assert mode.exit_code == 2 and "--mode and --background are for text labels" in mode.stderr


def test_plot_and_reference_metrics_with_a_probe(cli, trained, recording, tmp_path):
    reference = tmp_path / "ref.tsv"
    reference.write_text("filename\tonset\toffset\tevent_label\ntones.wav\t0.0\t0.4\tlow_hum\n")
    metrics, plot = tmp_path / "metrics.json", tmp_path / "tones.png"
    result = cli(["detect", recording, "--probe", trained, "--window", "0.8", "--hop", "0.4", "-f", "csv", "-o",
                  tmp_path / "events.csv", "--reference", reference, "--metrics", metrics, "--plot", plot, "-q"])
    assert result.exit_code == 0, result.stderr
    figures = json.loads(metrics.read_text())
    assert "event_based" in figures and "segment_based" in figures
    assert "reference labels not among" not in result.stderr  # low_hum is a class of the probe
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
