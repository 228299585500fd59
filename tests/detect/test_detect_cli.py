"""``clap detect`` end to end on the band model: event times on synthesized tones, every output format
parsed back, per-window frames, the plot, failures and usage errors."""

from __future__ import annotations

import csv
import io
import json
import re

import pyarrow.parquet as pq
import pytest
from fake_model import LABELS, SCENE

HOP = 0.25


def _detect(cli, *args):
    return cli(["detect", *args, "--labels", LABELS, "--window", "1", "--hop", str(HOP), "--quiet"])


def _tone_events(rows):
    return [(r["label"], float(r["onset"]), float(r["offset"])) for r in rows if r["label"] != "silence"]


def test_events_within_half_a_hop_of_the_tones(cli, fake_model, scenes):
    result = _detect(cli, scenes["scene"], "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["path", "label", "onset", "offset", "peak", "mean"]
    found = _tone_events(rows)
    assert [label for label, _, _ in found] == [label for label, _, _ in SCENE]
    for (_, onset, offset), (_, true_on, true_off) in zip(found, SCENE):
        assert abs(onset - true_on) <= HOP / 2 and abs(offset - true_off) <= HOP / 2
    silence = [(float(r["onset"]), float(r["offset"])) for r in rows if r["label"] == "silence"]
    assert silence[0][0] == 0.0 and silence[-1][1] == 12.0  # clipped to the file, first and last
    assert all(float(r["peak"]) >= float(r["mean"]) > 0.5 for r in rows)


def test_resampled_stereo_and_a_directory(cli, fake_model, scenes):
    result = _detect(cli, scenes["stereo44"], scenes["other"], "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    by_path = {}
    for row in rows:
        if row["label"] != "silence":
            by_path.setdefault(row["path"], []).append((row["label"], row["onset"], row["offset"]))
    (label, onset, offset), = by_path[str(scenes["stereo44"])]
    assert label == "low tone" and abs(onset - 1.0) <= HOP / 2 and abs(offset - 2.5) <= HOP / 2
    (label, onset, offset), = by_path[str(scenes["other"])]
    assert label == "high tone" and abs(onset - 1.0) <= HOP / 2 and abs(offset - 3.0) <= HOP / 2


def test_post_processing_options_reach_the_events(cli, fake_model, scenes):
    plain = _tone_events(csv.DictReader(io.StringIO(_detect(cli, scenes["scene"], "-f", "csv").stdout)))
    dropped = _detect(cli, scenes["scene"], "-f", "csv", "--min-duration", "2.5")
    assert [e[0] for e in _tone_events(csv.DictReader(io.StringIO(dropped.stdout)))] == ["low tone"]
    smooth = _detect(cli, scenes["scene"], "-f", "csv", "--smooth", "5")
    assert [e[0] for e in _tone_events(csv.DictReader(io.StringIO(smooth.stdout)))] == [e[0] for e in plain]
    strict = _detect(cli, scenes["scene"], "-f", "csv", "--threshold", "1.01")  # beyond any probability
    assert strict.exit_code == 2 and "--threshold 1.01: give a number from 0 to 1" in strict.stderr


def test_json_output_file_and_overwrite(cli, fake_model, scenes, tmp_path):
    target = tmp_path / "events.json"
    assert _detect(cli, scenes["scene"], "-o", target).exit_code == 0
    events = json.loads(target.read_text())
    assert {e["label"] for e in events} == {"low tone", "mid tone", "high tone", "silence"}
    again = _detect(cli, scenes["scene"], "-o", target)
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert _detect(cli, scenes["scene"], "-o", target, "--overwrite").exit_code == 0


def read_audacity(text):
    rows = [line.split("\t") for line in text.splitlines()]
    assert all(len(row) == 3 for row in rows)
    return [(label, float(on), float(off)) for on, off, label in rows]


def read_raven(text):
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    assert list(rows[0])[:8] == ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)",
                                 "High Freq (Hz)", "Annotation"]
    assert [int(r["Selection"]) for r in rows] == list(range(1, len(rows) + 1))
    return [(r["Annotation"], float(r["Begin Time (s)"]), float(r["End Time (s)"])) for r in rows]


VTT_CUE = re.compile(r"^(\d+)\n(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(.+) \((\d\.\d\d)\)$")


def read_webvtt(text):
    header, *cues = text.strip("\n").split("\n\n")
    assert header == "WEBVTT"
    out = []
    for cue in cues:
        match = VTT_CUE.match(cue)
        assert match, cue
        g = match.groups()
        onset = int(g[1]) * 3600 + int(g[2]) * 60 + int(g[3]) + int(g[4]) / 1000
        offset = int(g[5]) * 3600 + int(g[6]) * 60 + int(g[7]) + int(g[8]) / 1000
        out.append((g[9], onset, offset))
    assert [o for _, o, _ in out] == sorted(o for _, o, _ in out)
    return out


READERS = {"audacity": read_audacity, "raven": read_raven, "webvtt": read_webvtt}


@pytest.mark.parametrize("fmt", ["audacity", "raven", "webvtt"])
def test_label_formats_parse_back_to_the_csv_events(cli, fake_model, scenes, tmp_path, fmt):
    reference = [(r["label"], float(r["onset"]), float(r["offset"]))
                 for r in csv.DictReader(io.StringIO(_detect(cli, scenes["scene"], "-f", "csv").stdout))]
    stdout = _detect(cli, scenes["scene"], "--format", fmt)
    assert stdout.exit_code == 0, stdout.stderr
    parsed = READERS[fmt](stdout.stdout)
    assert [p[0] for p in parsed] == [r[0] for r in reference]
    assert all(abs(p[1] - r[1]) < 1e-3 and abs(p[2] - r[2]) < 1e-3 for p, r in zip(parsed, reference))
    # several inputs: one file per input in a directory, named after the input
    out = tmp_path / "labels"
    many = _detect(cli, scenes["scene"], scenes["other"], "--format", fmt, "-o", f"{out}/")
    assert many.exit_code == 0, many.stderr
    suffix = {"audacity": ".txt", "raven": ".selections.txt", "webvtt": ".vtt"}[fmt]
    assert sorted(p.name for p in out.iterdir()) == sorted(["scene" + suffix, "other" + suffix])
    assert READERS[fmt]((out / ("scene" + suffix)).read_text()) == parsed


def test_vtt_extension_chooses_webvtt(cli, fake_model, scenes, tmp_path):
    target = tmp_path / "scene.vtt"
    assert _detect(cli, scenes["scene"], "-o", target).exit_code == 0
    assert read_webvtt(target.read_text())


@pytest.mark.parametrize("name", ["frames.csv", "frames.parquet"])
def test_frames_hold_every_window_score(cli, fake_model, scenes, tmp_path, name):
    target = tmp_path / name
    result = _detect(cli, scenes["scene"], scenes["other"], "-f", "csv", "--frames", target)
    assert result.exit_code == 0, result.stderr
    if name.endswith(".csv"):
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
        starts = [float(r["start"]) for r in rows if r["path"] == str(scenes["scene"])]
        scores = [[float(r[label]) for label in LABELS.split(",")] for r in rows]
    else:
        table = pq.read_table(target).to_pylist()
        starts = [r["start"] for r in table if r["path"] == str(scenes["scene"])]
        scores = [[r[label] for label in LABELS.split(",")] for r in table]
    assert starts == [i * HOP for i in range(45)]  # (12 - 1) / 0.25 + 1 windows
    assert len(scores) == 45 + 13
    assert all(abs(sum(row) - 1) < 1e-5 for row in scores)  # softmax rows


def test_plot_png_has_the_expected_size(cli, fake_model, scenes, tmp_path):
    from PIL import Image

    target = tmp_path / "timeline.png"
    result = _detect(cli, scenes["scene"], "-f", "csv", "--plot", target)
    assert result.exit_code == 0, result.stderr
    with Image.open(target) as image:
        assert image.format == "PNG" and image.size == (1200, 600)
    plots = tmp_path / "plots"
    assert _detect(cli, scenes["scene"], scenes["other"], "-f", "csv", "--plot", f"{plots}/").exit_code == 0
    assert sorted(p.name for p in plots.iterdir()) == ["other.png", "scene.png"]


def test_missing_matplotlib_names_the_extra(cli, fake_model, scenes, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    result = _detect(cli, scenes["scene"], "--plot", tmp_path / "x.png")
    assert result.exit_code == 1 and "clapcli[plot]" in result.stderr


def test_broken_and_missing_inputs_fail_alone_exit_3(cli, fake_model, scenes, tmp_path):
    result = _detect(cli, scenes["broken"], tmp_path / "nope.wav", scenes["other"], "-f", "jsonl")
    assert result.exit_code == 3
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    errors = {r["path"]: r["error"] for r in rows if "error" in r}
    assert set(errors) == {str(scenes["broken"]), str(tmp_path / "nope.wav")}
    assert any(r.get("label") == "high tone" and r["path"] == str(scenes["other"]) for r in rows)
    assert f"failed: {scenes['broken']}: not a readable audio file" in result.stderr


def test_a_file_truncated_mid_stream_fails_and_the_rest_go_on(cli, fake_model, scenes, tmp_path):
    import soundfile as sf
    from fake_model import RATE, tone_track

    whole = tmp_path / "whole.flac"
    sf.write(whole, tone_track(SCENE, 12.0), RATE)
    data = whole.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])  # the header announces 12 s; decoding fails half-way
    result = _detect(cli, cut, scenes["other"], "-f", "csv")
    assert result.exit_code == 3
    assert f"failed: {cut}: not a readable audio file" in result.stderr
    assert {r["path"] for r in csv.DictReader(io.StringIO(result.stdout))} == {str(scenes["other"])}


@pytest.mark.parametrize("args,message", [
    (["--labels", "low tone", "--mode", "softmax"], "needs at least two labels"),
    (["--labels", "low tone,high tone", "--mode", "bogus"], "--mode bogus"),
    (["--labels", "low tone,high tone", "--background", "silence"], "--background is for --mode similarity"),
    (["--labels", "low tone,high tone", "--window", "0"], "--window 0"),
    (["--labels", "low tone,high tone", "--smooth", "4"], "odd"),
    (["--labels", "low tone,high tone", "--threshold", "0.5", "--threshold-off", "0.7"], "--threshold-off"),
    (["--labels", "low tone,high tone", "--format", "srt"], "Invalid value for '--format'"),
    (["--labels", "low tone,high tone", "-o", "x.txt"], "cannot tell the format"),
    (["--labels", "low tone,high tone", "--frames", "x.json"], ".csv or .parquet"),
    ([], "give at least one label"),
])
def test_usage_errors_exit_2(cli, fake_model, scenes, args, message):
    result = cli(["detect", scenes["scene"], *args])
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr


def test_several_inputs_need_a_directory_for_per_file_formats(cli, fake_model, scenes, tmp_path):
    result = _detect(cli, scenes["scene"], scenes["other"], "--format", "raven")
    assert result.exit_code == 2 and "--output DIRECTORY" in result.stderr
    result = _detect(cli, scenes["scene"], scenes["other"], "--format", "raven", "-o", tmp_path / "one.txt")
    assert result.exit_code == 2 and "several inputs need a DIRECTORY" in result.stderr


def test_similarity_mode_with_and_without_background(cli, fake_model, scenes):
    one = cli(["detect", scenes["scene"], "-l", "high tone", "--window", "1", "--hop", "0.25", "-f", "csv", "-q"])
    assert one.exit_code == 0, one.stderr
    rows = list(csv.DictReader(io.StringIO(one.stdout)))
    # one label: similarity mode by default, the cosine, default threshold 0.3
    assert [(r["label"]) for r in rows] == ["high tone"]
    assert abs(float(rows[0]["onset"]) - 6.0) <= 0.5 and float(rows[0]["peak"]) == pytest.approx(1.0)
    back = cli(["detect", scenes["scene"], "-l", "high tone,low tone", "--mode", "similarity", "--background",
                "silence", "--window", "1", "--hop", "0.25", "-f", "csv", "-q", "--threshold", "0.6"])
    rows = list(csv.DictReader(io.StringIO(back.stdout)))
    # each label against the background alone: a window of the mid tone is as unlike both (0.5)
    assert [r["label"] for r in rows] == ["low tone", "high tone"]


def test_help_teaches(cli):
    result = cli(["detect", "--help"])
    assert result.exit_code == 0
    for text in ("Examples:", "clap detect", "softmax", "similarity", "--threshold-off", "--frames", "Exit codes"):
        assert text in result.stdout


@pytest.mark.parametrize("second", [["--frames"], ["--metrics"]])
def test_two_outputs_naming_one_file_are_a_usage_error(cli, fake_model, scenes, tmp_path, monkeypatch, second):
    """Issue 23, item 8: -o X --frames X --overwrite silently kept only one of the two files."""
    target = tmp_path / "out.csv"
    target.write_text("mine")
    monkeypatch.chdir(tmp_path)
    extra = ["--reference", tmp_path / "ref.tsv"] if second == ["--metrics"] else []
    (tmp_path / "ref.tsv").write_text("filename\tonset\toffset\tevent_label\n")
    result = _detect(cli, scenes["scene"], "-o", target, *second, "out.csv", "--overwrite", *extra)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"--output and {second[0]} both name" in lines[0] and "out.csv" in lines[0]
    assert target.read_text() == "mine"
