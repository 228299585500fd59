"""Softmax window scores on the tiny real CLAP equal ``clap classify`` of each window cut out and saved
as its own file (<= 1e-5): windows equal to, shorter than (repeat-padded) and longer than (mean of
model windows) the model's 10 s window, on a file streamed in blocks at another rate."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import soundfile as sf

from clapcli.audio.decode import load_audio

LABELS = "dog barking,rain,music"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("fidelity")
    rate = 44100  # resampled to 48 kHz block by block
    t = np.arange(int(23.5 * rate)) / rate
    rng = np.random.default_rng(3)
    signal = 0.3 * np.sin(2 * np.pi * (300 + 40 * t) * t) * (t < 9) + 0.2 * rng.standard_normal(len(t)) * (t > 12)
    path = directory / "recording.wav"
    sf.write(path, np.stack([signal, 0.5 * signal], axis=1).astype(np.float32), rate, subtype="FLOAT")
    return path


@pytest.mark.parametrize("window,hop", [(10, 5), (4, 7), (12, 6)])
def test_window_scores_equal_classify_on_the_cut_window(cli, tiny_clap, recording, tmp_path, window, hop):
    frames = tmp_path / "frames.csv"
    result = cli(["detect", recording, "--model", tiny_clap, "--device", "cpu", "--labels", LABELS,
                  "--window", window, "--hop", hop, "--frames", frames, "-f", "csv", "-q"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(frames.read_text())))
    samples = load_audio(recording, 48000).samples  # what the model sees: mono at 48 kHz
    cut_paths = []
    for number, row in enumerate(rows):
        start, end = round(float(row["start"]) * 48000), round(float(row["end"]) * 48000)
        path = tmp_path / f"window{number}.wav"
        sf.write(path, samples[start:end], 48000, subtype="FLOAT")
        cut_paths.append(path)
    assert len(rows) == len(np.arange(0, len(samples) - window * 48000 + 1, hop * 48000)) + 1  # + one at the end
    assert float(rows[-1]["end"]) == pytest.approx(len(samples) / 48000, abs=1e-3)
    classified = cli(["classify", *cut_paths, "--model", tiny_clap, "--device", "cpu", "--labels", LABELS,
                      "-f", "csv", "-q"])
    assert classified.exit_code == 0, classified.stderr
    expected = {(r["path"], r["label"]): float(r["score"]) for r in csv.DictReader(io.StringIO(classified.stdout))}
    worst = 0.0
    for path, row in zip(cut_paths, rows):
        for label in LABELS.split(","):
            worst = max(worst, abs(float(row[label]) - expected[(str(path), label)]))
    assert worst <= 1e-5
