"""The PE-Audio family: read from config.json (model_type + architectures), aliases, the pe-av checkpoints'
audio-text part, one-line failures."""

from __future__ import annotations

import json

import numpy as np
from pe_models import reference_forward


def test_the_class_comes_from_architectures(tiny_pe, tiny_pe_frame) -> None:
    from clapcli.models.loading import load_embedding_model

    clip = load_embedding_model(str(tiny_pe), device="cpu", runtime="torch")
    frame = load_embedding_model(str(tiny_pe_frame), device="cpu", runtime="torch")
    assert (clip.family, clip.frame_level, type(clip.network).__name__) == ("pe-audio", False, "PeAudioModel")
    assert (frame.frame_level, type(frame.network).__name__) == (True, "PeAudioFrameLevelModel")
    assert (clip.sample_rate, clip.hop, clip.default_scoring) == (48_000, 1920, "sigmoid")


def test_pe_av_checkpoint_gives_its_audio_text_part(cli, tiny_pe_av, pe_clips) -> None:
    checkpoint, reference = tiny_pe_av
    paths = list(pe_clips.values())
    labels = ["dog barking", "siren"]
    logits, _, _ = reference_forward(reference, paths, labels)
    result = cli(["classify", *paths, "--model", checkpoint, "--labels", ",".join(labels), "--format", "json",
                  "--runtime", "torch"])
    assert result.exit_code == 0, result.stderr
    rows = {row["path"]: {p["label"]: p["score"] for p in row["predictions"]} for row in json.loads(result.stdout)}
    for path, logit in zip(paths, logits):
        expected = 1 / (1 + np.exp(-logit.numpy().astype(np.float64)))
        np.testing.assert_allclose([rows[str(path)][label] for label in labels], expected, atol=1e-5)


def test_a_pe_av_checkpoint_with_the_other_tied_copies_loads_the_same(cli, tiny_pe_av, pe_clips, tmp_path) -> None:
    """The tied tensors stored under their target names instead (``audio_video_encoder.embedder.audio_encoder.*``,
    ``video_model.text_model.*``), as another writer might: the same numbers."""
    import shutil

    from safetensors.torch import load_file, save_file

    checkpoint, reference = tiny_pe_av
    moved = tmp_path / "moved-av"
    shutil.copytree(checkpoint, moved)
    renamed = {}
    for key, tensor in load_file(moved / "model.safetensors").items():
        key = key.replace("audio_model.audio_encoder.", "audio_video_encoder.embedder.audio_encoder.")
        renamed[f"video_model.{key}" if key.startswith("text_model.") else key] = tensor
    assert not any(k.startswith(("audio_model.audio_encoder.", "text_model.")) for k in renamed)
    save_file(renamed, str(moved / "model.safetensors"), metadata={"format": "pt"})
    labels = ["dog barking", "siren"]
    logits, _, _ = reference_forward(reference, [pe_clips["chirp"]], labels)
    result = cli(["classify", pe_clips["chirp"], "--model", moved, "--labels", ",".join(labels), "--format", "json",
                  "--runtime", "torch"])
    assert result.exit_code == 0, result.stderr
    got = {p["label"]: p["score"] for p in json.loads(result.stdout)[0]["predictions"]}
    expected = 1 / (1 + np.exp(-logits[0].numpy().astype(np.float64)))
    np.testing.assert_allclose([got[label] for label in labels], expected, atol=1e-5)


def test_a_pe_av_checkpoint_missing_weights_is_one_line(cli, tiny_pe_av, pe_clips, tmp_path) -> None:
    import shutil

    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken-av"
    shutil.copytree(tiny_pe_av[0], broken)
    tensors = {k: v for k, v in load_file(broken / "model.safetensors").items() if "audio_head" not in k}
    save_file(tensors, str(broken / "model.safetensors"), metadata={"format": "pt"})
    result = cli(["classify", pe_clips["tone"], "--model", broken, "--labels", "a,b"])
    assert result.exit_code != 0
    line = result.stderr.strip()
    assert "\n" not in line and "audio_head" in line and "pe-av checkpoint" in line


def test_a_tokenizer_needing_a_missing_package_is_one_line(cli, tiny_pe, pe_clips, monkeypatch) -> None:
    import transformers

    def refuse(*args, **kwargs):
        raise ImportError("ModernBertTokenizer requires the sentencepiece library but it was not found")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)
    result = cli(["classify", pe_clips["tone"], "--model", tiny_pe, "--labels", "a,b", "--runtime", "torch"])
    assert result.exit_code != 0
    line = result.stderr.strip()
    assert "\n" not in line and "sentencepiece" in line and "install it" in line


def test_models_lists_the_aliases(cli) -> None:
    result = cli(["models", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    rows = {row["alias"]: row for row in json.loads(result.stdout)}
    for size in ("small", "base", "large"):
        assert rows[f"pe-av-{size}"]["model"] == f"facebook/pe-av-{size}"
        assert rows[f"pe-a-frame-{size}"]["model"] == f"facebook/pe-a-frame-{size}"
        assert "detect" in rows[f"pe-a-frame-{size}"]["used_by"]
    assert "detect" not in rows["pe-av-base"]["used_by"]


def test_fusion_is_refused_in_one_line(cli, tiny_pe, pe_clips) -> None:
    result = cli(["embed", pe_clips["tone"], "--model", tiny_pe, "--long-audio", "fusion", "--runtime", "torch"])
    assert result.exit_code == 2
    assert "--long-audio fusion" in result.stderr and "mean, head or center" in result.stderr


def test_models_says_a_large_job_exports_pe(cli, monkeypatch) -> None:
    """The export pays like CLAP's (docs/pe-audio.md): torch for small jobs, the exported runtime from 64 files."""
    from clapcli.models.runtime import auto

    monkeypatch.setattr(auto, "installed", lambda runtime: runtime == "openvino")
    monkeypatch.delenv("CLAPCLI_RUNTIME", raising=False)
    rows = {row["alias"]: row for row in json.loads(cli(["models", "--format", "json"]).stdout)}
    for alias in ("pe-av-base", "pe-a-frame-base"):
        assert rows[alias]["runtime"] == "torch; openvino once a 64+ file job exports it"


def test_the_hub_layout_with_processor_config_loads(tiny_pe, tmp_path) -> None:
    """The hub checkpoints nest the feature extractor in processor_config.json (no preprocessor_config.json)."""
    import shutil

    from clapcli.models.loading import load_embedding_model

    copy = tmp_path / "hub-layout"
    shutil.copytree(tiny_pe, copy)
    settings = json.loads((copy / "preprocessor_config.json").read_text())
    (copy / "preprocessor_config.json").unlink()
    (copy / "processor_config.json").write_text(json.dumps({"feature_extractor": settings,
                                                            "processor_class": "PeAudioProcessor"}))
    model = load_embedding_model(str(copy), device="cpu", runtime="torch")
    assert (model.sample_rate, model.hop) == (48_000, 1920)
