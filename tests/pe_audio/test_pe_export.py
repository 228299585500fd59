"""clap export of PE-Audio (ONNX, OpenVINO): through the real commands, the exports give transformers' own
numbers (sigmoid scores, embeddings, frame logits) within 1e-4 at every clip length, and --precision fast
(OpenVINO bfloat16) stays close."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from pe_models import BIAS, SCALE, reference_forward, reference_frames

LABELS = ["dog barking", "siren", "rain on roof"]
EXACT = 1e-4


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


@pytest.fixture(scope="module")
def pe_exports(tiny_pe: Path, tiny_pe_frame: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """(source kind, format) -> export directory, each written once by the real command."""
    from typer.testing import CliRunner

    from clapcli.cli import app

    root = tmp_path_factory.mktemp("pe-exports")
    done = {}
    for kind, source in (("clip", tiny_pe), ("frame", tiny_pe_frame)):
        for fmt in ("onnx", "openvino"):
            target = root / f"{kind}-{fmt}"
            result = CliRunner().invoke(app, ["export", str(source), str(target), "--format", fmt])
            assert result.exit_code == 0, result.output
            done[kind, fmt] = target
    return done


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_manifest_carries_scale_bias_and_frames(pe_exports, fmt) -> None:
    for kind in ("clip", "frame"):
        manifest = json.loads((pe_exports[kind, fmt] / "clapcli-export.json").read_text())
        assert manifest["family"] == "pe-audio" and manifest["format"] == fmt
        assert manifest["logit_scale"] == SCALE and manifest["logit_bias"] == BIAS
        assert manifest["audio"] == {"sample_rate": 48_000, "hop": 1920, "window_samples": 30 * 48_000,
                                     "frame_level": kind == "frame"}
        agreement = manifest["agreement"]
        assert agreement["audio_max_abs_diff"] < EXACT and agreement["text_max_abs_diff"] < EXACT
        assert (agreement.get("frame_scores_max_abs_diff", 0) < EXACT) and (kind == "frame") == (
            "frame_scores_max_abs_diff" in agreement)


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_classify_on_the_export_gives_the_sigmoid_of_the_forward_pass(cli, tiny_pe, pe_exports, pe_clips,
                                                                      fmt) -> None:
    paths = list(pe_clips.values())  # three lengths through one export: the samples axis is dynamic
    logits, _, _ = reference_forward(tiny_pe, paths, LABELS)
    result = cli(["classify", *paths, "--model", pe_exports["clip", fmt], "--labels", ",".join(LABELS),
                  "--format", "json", "--top-k", "3"])
    assert result.exit_code == 0, result.stderr
    rows = {row["path"]: row for row in json.loads(result.stdout)}
    for path, logit in zip(paths, logits):
        got = {p["label"]: p["score"] for p in rows[str(path)]["predictions"]}
        np.testing.assert_allclose([got[label] for label in LABELS], _sigmoid(logit.numpy()), atol=EXACT)


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_embed_on_the_export_equals_the_forward_pass(cli, tiny_pe, pe_exports, pe_clips, fmt) -> None:
    paths = list(pe_clips.values())
    texts = ["dog barking", "a much longer description of rain falling on a tin roof at night"]
    _, audio, text = reference_forward(tiny_pe, paths, texts)
    args = ["embed", *paths, "--model", pe_exports["clip", fmt], "--no-normalize", "--format", "jsonl"]
    result = cli([*args, *[arg for t in texts for arg in ("--text", t)]])
    assert result.exit_code == 0, result.stderr
    got = {row.get("path") or row.get("text"): np.array(row["embedding"])
           for row in map(json.loads, result.stdout.splitlines())}
    for path, expected in zip(paths, audio):
        np.testing.assert_allclose(got[str(path)], expected.numpy(), atol=EXACT)
    for row, name in enumerate(texts):  # two token lengths through one text export
        np.testing.assert_allclose(got[name], text[row].numpy(), atol=EXACT)


@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_detect_on_the_export_gives_the_frame_models_logits(cli, tiny_pe_frame, pe_clips, tmp_path,
                                                             runtime) -> None:
    """``--runtime onnx|openvino`` on the checkpoint: exported once into the cache, frames scored there."""
    frames = tmp_path / "frames.parquet"
    paths = [pe_clips["noise"], pe_clips["chirp"]]
    result = cli(["detect", *paths, "--model", tiny_pe_frame, "--labels", ",".join(LABELS), "--runtime", runtime,
                  "-f", "csv", "--frames", frames])
    assert result.exit_code == 0, result.stderr
    rows = pq.read_table(frames).to_pylist()
    for path in paths:
        mine = [r for r in rows if r["path"] == str(path)]
        expected = reference_frames(tiny_pe_frame, path, LABELS)
        assert len(mine) == len(expected)
        np.testing.assert_allclose([[r[label] for label in LABELS] for r in mine], expected, atol=EXACT)


def test_long_audio_windows_on_the_export_equal_torch(cli, tiny_pe, pe_clips, monkeypatch, tmp_path) -> None:
    """An export records its longest window; beyond it, the same --long-audio windows as torch."""
    import clapcli.models.pe_windows as pe_windows

    monkeypatch.setattr(pe_windows, "MAX_SECONDS", 0.8)
    target = tmp_path / "short-window"
    assert cli(["export", tiny_pe, target, "--format", "onnx"]).exit_code == 0
    monkeypatch.setattr(pe_windows, "MAX_SECONDS", 30.0)  # the export keeps its own 0.8 s
    assert json.loads((target / "clapcli-export.json").read_text())["audio"]["window_samples"] == 20 * 1920
    for strategy in ("mean", "center"):
        rows = {}
        monkeypatch.setattr(pe_windows, "MAX_SECONDS", 0.8)
        for model, runtime in ((tiny_pe, "torch"), (target, "onnx")):
            result = cli(["embed", pe_clips["noise"], "--model", model, "--runtime", runtime, "--long-audio",
                          strategy, "--no-normalize", "-f", "jsonl"])
            assert result.exit_code == 0, result.stderr
            rows[runtime] = np.array(json.loads(result.stdout)["embedding"])
        np.testing.assert_allclose(rows["onnx"], rows["torch"], atol=EXACT)


def test_fast_precision_runs_bfloat16_on_openvino(cli, tiny_pe, pe_exports, pe_clips) -> None:
    paths = list(pe_clips.values())
    _, audio, _ = reference_forward(tiny_pe, paths, ["a dog"])
    result = cli(["embed", *paths, "--model", pe_exports["clip", "openvino"], "--precision", "fast", "-f", "jsonl"])
    assert result.exit_code == 0, result.stderr
    got = {row["path"]: np.array(row["embedding"]) for row in map(json.loads, result.stdout.splitlines())}
    for path, expected in zip(paths, audio):
        reference = expected.numpy() / np.linalg.norm(expected.numpy())
        assert float(got[str(path)] @ reference) > 0.99  # bf16 where native, float32 elsewhere


def test_a_pe_av_checkpoint_exports_its_audio_text_towers(cli, tiny_pe_av, pe_clips, tmp_path) -> None:
    checkpoint, reference = tiny_pe_av
    target = tmp_path / "pe-av"
    result = cli(["export", checkpoint, target, "--format", "onnx"])
    assert result.exit_code == 0, result.stderr
    logits, _, _ = reference_forward(reference, [pe_clips["tone"]], LABELS)
    scored = cli(["classify", pe_clips["tone"], "--model", target, "--labels", ",".join(LABELS), "-f", "json",
                  "--top-k", "3"])
    assert scored.exit_code == 0, scored.stderr
    got = {p["label"]: p["score"] for p in json.loads(scored.stdout)[0]["predictions"]}
    np.testing.assert_allclose([got[label] for label in LABELS], _sigmoid(logits[0].numpy()), atol=EXACT)


@pytest.mark.parametrize(("field", "value", "says"), [
    ("audio.window_samples", 1921, "whole number of hops"),
    ("audio.frame_level", "yes", "true or false"),
    ("logit_bias", float("nan"), "finite number"),
])
def test_a_crafted_pe_manifest_fails_in_one_line(cli, pe_exports, pe_clips, tmp_path, field, value, says) -> None:
    import shutil

    target = tmp_path / "crafted"
    shutil.copytree(pe_exports["clip", "onnx"], target)
    path = target / "clapcli-export.json"
    data = json.loads(path.read_text())
    where, _, key = field.rpartition(".")
    (data[where] if where else data)[key] = value
    path.write_text(json.dumps(data))
    result = cli(["embed", pe_clips["tone"], "--model", target])
    assert result.exit_code != 0
    assert says in result.stderr and field in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_auto_exports_pe_for_a_large_job(cli, tiny_pe, pe_clips, tmp_path, monkeypatch) -> None:
    """``--runtime auto`` treats PE-Audio as CLAP: a job that pays for the export runs on it, same numbers."""
    from clapcli.models.runtime import auto

    monkeypatch.setattr(auto, "EXPORT_PAYS_FROM", 2)  # a big job, in small
    monkeypatch.setattr(auto, "installed", lambda runtime: runtime in ("openvino", "onnx"))
    monkeypatch.setattr(auto, "gpu_requested", lambda device: False)
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    paths = list(pe_clips.values())
    args = ["embed", *paths, "--model", tiny_pe, "--no-normalize", "-f", "jsonl"]
    chosen = cli([*args, "--runtime", "auto", "--precision", "exact"])
    assert chosen.exit_code == 0, chosen.stderr
    assert "--runtime auto: openvino" in chosen.stderr and "pay for a one-time export" in chosen.stderr
    (cached,) = (tmp_path / "home" / "exports").iterdir()
    assert json.loads((cached / "clapcli-export.json").read_text())["family"] == "pe-audio"
    reference = cli([*args, "--runtime", "torch"])
    got = {row["path"]: np.array(row["embedding"]) for row in map(json.loads, chosen.stdout.splitlines())}
    for row in map(json.loads, reference.stdout.splitlines()):
        np.testing.assert_allclose(got[row["path"]], row["embedding"], atol=EXACT)
