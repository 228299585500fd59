"""Fused LAION CLAP exported: two audio towers (plain windows, fused stacks) with torch's numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clapcli.models.runtime.manifest import MANIFEST_NAME

TOLERANCE = 1e-5
FORMATS = ("onnx", "openvino")


@pytest.fixture(scope="module")
def fused_exports(tmp_path_factory: pytest.TempPathFactory, tiny_clap_fused: Path) -> dict[str, Path]:
    from clapcli.models.runtime.export import export_model

    root = tmp_path_factory.mktemp("fused-exports")
    for fmt in FORMATS:
        export_model(str(tiny_clap_fused), root / fmt, fmt)
    return {fmt: root / fmt for fmt in FORMATS}


def embeddings(cli, model, clips, extra=()) -> dict[str, np.ndarray]:
    result = cli(["embed", *clips, "--text", "a dog barking", "--text", "rain", "--model", model, "-f", "jsonl",
                  *extra])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["path"] or row["text"]: np.array(row["embedding"]) for row in rows}


def max_diffs(reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> dict[str, float]:
    assert reference.keys() == other.keys()
    return {key: float(np.abs(reference[key] - other[key]).max()) for key in reference}


@pytest.mark.parametrize("seconds", [10.001, 10.009, 10.5, 17.3, 23.0, 61.0, 300.0])
def test_numpy_fusion_mel_equals_torch(seconds):
    import torch

    from clapcli.audio.features import MelSpec, fusion_mel, log_mel_numpy
    from clapcli.audio.fusion import fusion_mel_numpy

    spec = MelSpec(48000, 1024, 480, 64, 50.0, 14000.0, "htk")
    rng = np.random.default_rng(int(seconds * 10))
    samples = (0.3 * rng.standard_normal(int(seconds * 48000))).astype(np.float32)
    mel = log_mel_numpy(samples, spec)[0].astype(np.float32)  # as both paths compute it on the CPU
    ours = fusion_mel_numpy(mel, 1001)
    theirs = fusion_mel(torch.from_numpy(mel), 1001).numpy()
    assert ours.shape == theirs.shape == (4, 1001, 64) and ours.dtype == np.float32
    # Equal here bit for bit; a CPU whose torch build contracts no fused multiply-adds may differ by
    # one float32 rounding, so allow two ulps.
    np.testing.assert_allclose(ours, theirs, rtol=2.5e-7, atol=1e-6)


def test_fused_export_has_two_audio_towers(fused_exports):
    import onnx

    from clapcli.models.runtime.manifest import read_manifest

    assert sorted(p.name for p in fused_exports["openvino"].iterdir()) == sorted(
        ["audio.xml", "audio.bin", "audio_fusion.xml", "audio_fusion.bin", "text.xml", "text.bin", "tokenizer.json",
         MANIFEST_NAME])
    manifest = read_manifest(fused_exports["onnx"])
    assert manifest.fused and manifest.audio["fusion_tower"] == "audio_fusion"
    assert manifest.audio["mel"]["scale"] == "htk"  # the extractor truncates by fusion
    agreement = manifest.agreement
    assert agreement["fusion_probe"] == "2 long clips"
    assert agreement["fusion_max_abs_diff"] <= TOLERANCE and agreement["audio_max_abs_diff"] <= TOLERANCE

    def inputs(name):  # the traced branch decides which channels the graph keeps
        graph = onnx.load(str(fused_exports["onnx"] / name)).graph
        return [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in graph.input]

    assert inputs("audio.onnx") == [("input_features", ["batch", 1, 1001, 64])]
    assert inputs("audio_fusion.onnx") == [("input_features", ["batch", 4, 1001, 64])]


@pytest.mark.parametrize("fmt", FORMATS)
def test_towers_take_any_batch(fused_exports, fmt):
    from clapcli.models.runtime.model import load_export

    towers = load_export(fused_exports[fmt]).towers
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        plain = (20 * rng.standard_normal((batch, 1, 1001, 64)) - 40).astype(np.float32)
        stacks = (20 * rng.standard_normal((batch, 4, 1001, 64)) - 40).astype(np.float32)
        assert towers.audio(plain).shape == towers.audio_fusion(stacks).shape == (batch, 16)
        one_by_one = np.concatenate([towers.audio_fusion(stacks[i : i + 1]) for i in range(batch)])
        assert np.abs(towers.audio_fusion(stacks) - one_by_one).max() < 1e-5


@pytest.mark.parametrize("long_audio", [None, "mean"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_embed_with_fused_export_equals_torch(cli, fused_exports, tiny_clap_fused, clips, fmt, long_audio):
    """A short tone, 2.5 s of noise and a 23 s chirp (fused, or 3 windows with mean), plus two texts."""
    extra = ["--long-audio", long_audio] if long_audio else []
    reference = embeddings(cli, tiny_clap_fused, clips, extra)
    exported = embeddings(cli, fused_exports[fmt], clips, extra)
    diffs = max_diffs(reference, exported)
    assert len(diffs) == 5 and max(diffs.values()) <= TOLERANCE, diffs


def test_default_on_a_fused_export_is_fusion(cli, fused_exports, tiny_clap_fused, clips):
    fused = embeddings(cli, fused_exports["onnx"], clips[2:], ["--long-audio", "fusion"])
    default = embeddings(cli, fused_exports["onnx"], clips[2:])
    mean = embeddings(cli, fused_exports["onnx"], clips[2:], ["--long-audio", "mean"])
    long_clip = str(clips[2])
    assert np.array_equal(fused[long_clip], default[long_clip])
    assert np.abs(fused[long_clip] - mean[long_clip]).max() > 0.05  # the fusion tower really fuses


@pytest.mark.parametrize("strategy", ["head", "center"])
def test_window_strategies_on_a_fused_export(cli, fused_exports, tiny_clap_fused, clips, strategy):
    extra = ["--long-audio", strategy]
    diffs = max_diffs(embeddings(cli, tiny_clap_fused, clips[2:], extra),
                      embeddings(cli, fused_exports["openvino"], clips[2:], extra))
    assert max(diffs.values()) <= TOLERANCE, diffs


@pytest.mark.parametrize("fmt", FORMATS)
def test_classify_with_fused_export_same_top_labels(cli, fused_exports, tiny_clap_fused, clips, fmt):
    def ranked(model):
        result = cli(["classify", *clips, "--labels", "dog,rain,music,engine", "--model", model, "-f", "jsonl"])
        assert result.exit_code == 0, result.stderr
        return [json.loads(line)["predictions"] for line in result.stdout.splitlines()]

    reference, exported = ranked(tiny_clap_fused), ranked(fused_exports[fmt])
    assert [[p["label"] for p in r] for r in reference] == [[p["label"] for p in r] for r in exported]
    assert max(abs(a["score"] - b["score"]) for r, e in zip(reference, exported) for a, b in zip(r, e)) < 1e-5


def test_streamed_long_clip_takes_the_fusion_tower(fused_exports, tiny_clap_fused):
    """Audio over a minute arrives as a stream: its mel is computed block by block, as on torch."""
    from clapcli.audio.decode import AudioStream
    from clapcli.models.loading import load_embedding_model
    from clapcli.models.runtime.model import load_export

    t = np.arange(65 * 48000) / 48000
    samples = (0.3 * np.sin(2 * np.pi * (150 + 40 * t) * t)).astype(np.float32)
    exported = load_export(fused_exports["onnx"])
    torch_model = load_embedding_model(str(tiny_clap_fused), device="cpu")
    streamed = exported.prepare(AudioStream.of_array("long", samples, 48000, 48000))
    assert streamed.fusion and streamed.features.shape == (1, 4, 1001, 64)
    in_memory = exported.encode_prepared([exported.prepare(samples)]).numpy()
    assert np.array_equal(exported.encode_prepared([streamed]).numpy(), in_memory)
    reference = torch_model.encode_prepared([torch_model.prepare(AudioStream.of_array("long", samples, 48000, 48000))])
    assert np.abs(reference.numpy() - in_memory).max() <= TOLERANCE


def test_missing_fusion_tower_is_named(cli, fused_exports, clips, tmp_path):
    for fmt, name in (("onnx", "audio_fusion.onnx"), ("openvino", "audio_fusion.bin")):
        partial = shutil.copytree(fused_exports[fmt], tmp_path / fmt)
        (partial / name).unlink()
        result = cli(["embed", clips[0], "--model", partial, "-f", "jsonl"])
        assert result.exit_code == 1, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"error: export directory '{partial}' is incomplete: {name} is missing; export again with "
            "'clap export MODEL DIR --overwrite'"]


def test_manifest_without_the_fused_keys_reads_as_unfused(fused_exports, clips, tmp_path):
    """What an older clapcli sees in a fused export: one audio tower, windows only, the same numbers."""
    from clapcli.models.runtime.manifest import read_manifest
    from clapcli.models.runtime.model import load_export

    older = shutil.copytree(fused_exports["onnx"], tmp_path / "older")
    data = json.loads((older / MANIFEST_NAME).read_text())
    del data["audio"]["fused"], data["audio"]["fusion_tower"]
    (older / MANIFEST_NAME).write_text(json.dumps(data))
    (older / "audio_fusion.onnx").unlink()
    manifest = read_manifest(older)
    assert not manifest.fused and manifest.towers == ["audio", "text"]
    plain, fused = load_export(older), load_export(fused_exports["onnx"], long_audio="mean")
    assert plain.long_audio == "mean"
    tone = np.sin(np.arange(30 * 48000) / 40).astype(np.float32)
    assert np.array_equal(plain.encode_prepared([plain.prepare(tone)]), fused.encode_prepared([fused.prepare(tone)]))


def test_runtime_auto_picks_openvino_for_a_fused_checkpoint(cli, tiny_clap_fused, clips, tmp_path, monkeypatch):
    from clapcli.models.runtime import auto

    monkeypatch.setattr(auto, "installed", lambda runtime: True)
    monkeypatch.setattr(auto, "NVIDIA", (tmp_path / "no-driver",))
    monkeypatch.setattr(auto, "EXPORT_PAYS_FROM", 1)  # a big job, in small
    assert auto.choose_runtime(str(tiny_clap_fused), None, "cpu") == auto.Choice(
        "openvino", "installed, fastest float32 on the CPU")
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    chosen = embeddings(cli, tiny_clap_fused, clips[2:], ["--runtime", "auto", "--device", "cpu"])
    (cached,) = (tmp_path / "home" / "exports").iterdir()
    assert cached.name.endswith("-openvino") and (cached / "audio_fusion.xml").is_file()
    diffs = max_diffs(embeddings(cli, tiny_clap_fused, clips[2:], ["--runtime", "torch"]), chosen)
    assert max(diffs.values()) <= TOLERANCE, diffs


def test_fused_export_runs_without_torch(fused_exports, clips):
    """The fused stack is numpy (``clapcli.audio.fusion``): torch never enters sys.modules."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('TORCH=%s\\n' % ('torch' in sys.modules)))\n"
        "from clapcli.cli import main\n"
        f"sys.argv = ['clap', 'embed', {str(clips[2])!r}, '--model', {str(fused_exports['openvino'])!r}, "
        "'-f', 'jsonl']\n"
        "main()\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "TORCH=False" in done.stderr and len(json.loads(done.stdout)["embedding"]) == 16
