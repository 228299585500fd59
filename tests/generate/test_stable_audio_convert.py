"""``clap convert stable-audio-3`` on a tiny release in stable-audio-tools form (model_config.json +
model.safetensors + t5gemma-b-b-ul2/), built offline: the converted directory loads in diffusers'
pipelines, holds the source tensors, and ``clap generate`` on it writes what StableAudio3Pipeline built
directly from the same tensors writes (same seed, steps, guidance, duration), within one 16-bit step."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_sa3_original import MAX_SECONDS, build_release, differential_to_reference, direct_pipeline

PROMPT = "heavy rain falls in a dense forest"
PCM_STEP = 1 / 32768
REFERENCE_KEYS = Path(__file__).parent / "data" / "sa3_reference_keys.json"


@pytest.fixture(scope="module")
def release(tmp_path_factory, one_thread):
    """(release folder, diffusers components, encoder, tokenizer)."""
    return build_release(tmp_path_factory.mktemp("sa3") / "stable-audio-3-small-sfx")


@pytest.fixture(scope="module")
def converted(release, tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from clapcli.cli import app

    out = tmp_path_factory.mktemp("sa3-out") / "sa3-diffusers"
    result = CliRunner().invoke(app, ["convert", "stable-audio-3", str(release[0]), str(out), "-f", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return out


def test_tiny_release_has_the_reference_key_layout(release):
    """The checkpoint written by the test carries exactly the keys and shapes stable-audio-3's own model code
    builds for the same config (its T5Gemma output projection aside: an identity at the real 768 dims)."""
    from safetensors.torch import load_file

    state = load_file(str(release[0] / "model.safetensors"))
    assert {key: list(value.shape) for key, value in state.items()} == json.loads(REFERENCE_KEYS.read_text())


def test_convert_report_and_manifest(run, release, tmp_path):
    out = tmp_path / "out"
    result = run(["convert", "stable-audio-3", release[0] / "model.safetensors", out, "-f", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["family"] == "stable-audio-3" and report["config"]["max_seconds"] == MAX_SECONDS
    assert report["config"]["text_encoder"] == str(release[0] / "t5gemma-b-b-ul2")
    assert report["dropped_patterns"] == {"SAME rotary frequencies (rebuilt by diffusers, checked equal)": 4,
                                          "empty bottleneck noise-augmentation factor (no noise channels)": 1}
    manifest = json.loads((out / "clapcli-convert.json").read_text())
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert sorted(manifest["files"] + ["clapcli-convert.json"]) == on_disk
    assert "transformer/diffusion_pytorch_model.safetensors" in manifest["files"]
    # --overwrite replaces what convert wrote, subfolders included; a stray file in a subfolder blocks it
    assert run(["convert", "stable-audio-3", release[0], out, "--overwrite"]).exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # the old copy's subfolders went with it
    (out / "vae" / "notes.txt").write_text("mine")
    result = run(["convert", "stable-audio-3", release[0], out, "--overwrite"])
    assert result.exit_code != 0 and "holds 'vae/notes.txt'" in result.stderr
    assert (out / "vae" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("cls_name", ["StableAudio3Pipeline", "StableAudio3InpaintPipeline",
                                      "StableAudio3AudioToAudioPipeline"])
def test_converted_weights_equal_the_source(converted, release, cls_name):
    """Each pipeline loads the directory with from_pretrained; every tensor is the source's."""
    import diffusers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = getattr(diffusers, cls_name).from_pretrained(converted)
    _, parts, encoder, _ = release
    for name, model in parts.items():
        loaded = getattr(pipe, name).state_dict()
        for key, value in model.state_dict().items():
            assert torch.equal(loaded[key], value), (name, key)
    for key, value in encoder.state_dict().items():
        assert torch.equal(pipe.text_encoder.state_dict()[key], value), key
    assert pipe.tokenizer.model_max_length == 32 and pipe.scheduler.config.stochastic_sampling


def test_qkv_rows_are_reordered_not_copied(converted, release):
    """The differential attention's fused rows move ([q|k|v|q2|k2] -> [q|q2|k|k2|v]), so a plain copy would differ."""
    from safetensors.torch import load_file

    source = load_file(str(release[0] / "model.safetensors"))
    fused = source["model.model.transformer.layers.0.self_attn.to_qkv.weight"]
    ours = load_file(str(converted / "transformer" / "diffusion_pytorch_model.safetensors"))
    target = ours["transformer_blocks.0.self_attn.to_qkv.weight"]
    assert not torch.equal(target, fused) and torch.equal(differential_to_reference(target), fused)


@pytest.mark.parametrize("extra, call", [
    ((), dict(guidance_scale=1.0)),  # the distilled defaults: 8 steps, no guidance
    (("--steps", "3", "--guidance", "2", "--negative", "low quality"),
     dict(num_inference_steps=3, guidance_scale=2.0, negative_prompt="low quality")),
])
def test_generate_on_converted_equals_direct_pipeline(run, converted, release, tmp_path, extra, call):
    out = tmp_path / "a.wav"
    result = run(["generate", PROMPT, "-m", converted, "-o", out, "-f", "json", "--seconds", "1", "--seed", "5",
                  *extra])
    assert result.exit_code == 0, result.stderr
    [record] = json.loads(result.stdout)
    got, rate = sf.read(out, dtype="float64", always_2d=True)
    assert rate == 44100 and got.shape[1] == 2
    pipe = direct_pipeline(*release[1:], tmp_path / "direct")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        audio = pipe(PROMPT, duration=1.0, generator=torch.Generator().manual_seed(5), output_type="pt",
                     **call).audios
    expected = audio[0].float().numpy().T
    assert got.shape == expected.shape and np.abs(expected).max() > 1e-2
    assert np.max(np.abs(got - expected * record["gain"])) <= PCM_STEP
    assert record["steps"] == call.get("num_inference_steps", 8)


def test_generate_refuses_past_the_converted_maximum(run, converted, tmp_path):
    result = run(["generate", PROMPT, "-m", converted, "-o", tmp_path / "b.wav", "--seconds", "3"])
    assert result.exit_code != 0 and "2 s at most" in result.stderr and not (tmp_path / "b.wav").exists()


# ----------------------------------------------------------------------------- failures: one line each

def _copy(release, tmp_path: Path) -> Path:
    folder = tmp_path / "release"
    shutil.copytree(release[0], folder)
    return folder


def _one_line_failure(run, args) -> str:
    result = run(args)
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_truncated_safetensors_is_one_line(run, release, tmp_path):
    folder = _copy(release, tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    line = _one_line_failure(run, ["convert", "stable-audio-3", folder, tmp_path / "out"])
    assert str(weights) in line and "download it again" in line and not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.update(model_type="autoencoder"), "not a Stable Audio 3 model config"),
    (lambda c: c["model"]["diffusion"].update(diffusion_objective="v"), "diffusion objective 'v'"),
    (lambda c: c["model"]["pretransform"]["config"]["encoder"]["config"].update(conformer=True), "encoder.conformer"),
    (lambda c: c["model"]["diffusion"]["config"].update(embed_dim=32), "heads of 32 dims"),
    (lambda c: c["model"]["diffusion"]["config"].pop("norm_type"), "norm_type 'layer_norm'"),
    (lambda c: c["model"].pop("conditioning"), "no 'conditioning' entry"),
    (lambda c: c["model"]["diffusion"]["config"].update(depth="deep"), "wrong type"),
])
def test_wrong_config_is_one_line_naming_the_file(run, release, tmp_path, edit, words):
    folder = _copy(release, tmp_path)
    config = json.loads((folder / "model_config.json").read_text())
    edit(config)
    (folder / "model_config.json").write_text(json.dumps(config))
    line = _one_line_failure(run, ["convert", "stable-audio-3", folder, tmp_path / "out"])
    assert str(folder / "model_config.json") in line and words in line


def test_config_disagreeing_with_the_weights_is_one_line(run, release, tmp_path):
    folder = _copy(release, tmp_path)
    config = json.loads((folder / "model_config.json").read_text())
    config["model"]["diffusion"]["config"]["num_memory_tokens"] = 4
    (folder / "model_config.json").write_text(json.dumps(config))
    line = _one_line_failure(run, ["convert", "stable-audio-3", folder, tmp_path / "out"])
    assert "'memory_tokens' is (2, 64) in the checkpoint, (4, 64) by the config" in line


@pytest.mark.parametrize("content", ["", "{not json"])
def test_unreadable_or_missing_config(run, release, tmp_path, content):
    folder = _copy(release, tmp_path)
    if content:
        (folder / "model_config.json").write_text(content)
    else:
        (folder / "model_config.json").unlink()
    line = _one_line_failure(run, ["convert", "stable-audio-3", folder, tmp_path / "out"])
    assert "model_config.json" in line and str(folder) in line


def test_pickle_checkpoint_needing_code_is_refused(run, release, tmp_path):
    """A .ckpt goes through torch.load(weights_only=True): a pickle that would run code never runs."""
    import os

    folder = _copy(release, tmp_path)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": Evil()}, folder / "model.ckpt")
    line = _one_line_failure(run, ["convert", "stable-audio-3", folder, tmp_path / "out"])
    assert "refuses to run" in line and not marker.exists()


def test_missing_text_encoder_is_one_line(run, release, tmp_path, monkeypatch):
    folder = _copy(release, tmp_path)
    shutil.rmtree(folder / "t5gemma-b-b-ul2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    line = _one_line_failure(run, ["convert", "stable-audio-3", folder, tmp_path / "out"])
    assert "stabilityai/stable-audio-3-small-sfx" in line and "--text-encoder" in line


def test_clap_options_are_refused_for_stable_audio_3(run, release, tmp_path):
    line = _one_line_failure(run, ["convert", "stable-audio-3", release[0], tmp_path / "out", "--fused"])
    assert "--text-encoder" in line


# ----------------------------------------------------------------------------- served on first use

def test_generate_on_a_release_folder_converts_once(run, release, converted, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    args = ["generate", PROMPT, "--seconds", "0.5", "--steps", "2", "--seed", "3"]
    first = run([*args, "-m", release[0], "-o", tmp_path / "first.wav"])
    assert first.exit_code == 0, first.stderr
    assert "converting Stable Audio 3 release" in first.stderr
    [copy] = (tmp_path / "home" / "converted").iterdir()
    assert (copy / "model_index.json").is_file() and (copy / "clapcli-convert.json").is_file()
    second = run([*args, "-m", release[0], "-o", tmp_path / "second.wav"])
    assert second.exit_code == 0 and "converting" not in second.stderr
    direct = run([*args, "-m", converted, "-o", tmp_path / "direct.wav"])
    assert direct.exit_code == 0
    first_audio, second_audio, direct_audio = (sf.read(tmp_path / f"{n}.wav")[0] for n in ("first", "second", "direct"))
    assert np.array_equal(first_audio, direct_audio) and np.array_equal(second_audio, direct_audio)


@pytest.mark.parametrize("alias, repo", [("stable-audio-3-small-sfx", "stabilityai/stable-audio-3-small-sfx"),
                                         ("stable-audio-3-small-music", "stabilityai/stable-audio-3-small-music")])
def test_alias_offline_and_not_cached_is_one_line(run, tmp_path, monkeypatch, alias, repo):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    line = _one_line_failure(run, ["generate", PROMPT, "-m", alias, "-o", tmp_path / "x.wav"])
    assert repo in line and not (tmp_path / "x.wav").exists()
    result = run(["models", "-f", "json"])
    assert {"alias": alias, "model": repo} in [{k: r[k] for k in ("alias", "model")} for r in json.loads(result.stdout)]


def test_ckpt_of_plain_tensors_converts(run, release, converted, tmp_path):
    """A .ckpt goes through torch.load(weights_only=True) and gives the same directory's weights."""
    from safetensors.torch import load_file

    folder = _copy(release, tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save({"state_dict": state}, folder / "model.ckpt")
    assert run(["convert", "stable-audio-3", folder, tmp_path / "out"]).exit_code == 0
    for part in ("transformer", "vae", "duration_embedder"):
        ours = load_file(str(tmp_path / "out" / part / "diffusion_pytorch_model.safetensors"))
        theirs = load_file(str(converted / part / "diffusion_pytorch_model.safetensors"))
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_hub_release_offline_is_one_line(run, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    line = _one_line_failure(run, ["convert", "stable-audio-3", "stabilityai/stable-audio-3-small-sfx", tmp_path / "o"])
    assert "stabilityai/stable-audio-3-small-sfx" in line and "not in the local cache" in line


def test_base_release_gets_euler_and_the_reference_base_defaults(run, release, tmp_path):
    """rectified_flow (a -base model): deterministic Euler; clap generate defaults to the reference's 50 steps and
    guidance 7 for such models (the -base cards' example), against the pipeline's own 100 steps."""
    folder = _copy(release, tmp_path)
    config = json.loads((folder / "model_config.json").read_text())
    config["model"]["diffusion"]["diffusion_objective"] = "rectified_flow"
    (folder / "model_config.json").write_text(json.dumps(config))
    assert run(["convert", "stable-audio-3", folder, tmp_path / "base"]).exit_code == 0
    scheduler = json.loads((tmp_path / "base" / "scheduler" / "scheduler_config.json").read_text())
    assert scheduler["stochastic_sampling"] is False and scheduler["shift"] == 1.0
    result = run(["generate", PROMPT, "-m", tmp_path / "base", "-o", tmp_path / "b.wav", "-f", "json",
                  "--seconds", "0.2"])
    assert result.exit_code == 0, result.stderr
    [record] = json.loads(result.stdout)
    assert (record["steps"], record["guidance"]) == (50, 7.0)
    # with a recording (no guidance in those pipelines) the default guidance is off, not a refusal
    sf.write(tmp_path / "ref.wav", np.zeros((8820, 2), dtype=np.float32), 44100)
    result = run(["generate", PROMPT, "-m", tmp_path / "base", "-o", tmp_path / "v.wav", "-f", "json",
                  "--init-audio", tmp_path / "ref.wav", "--strength", "0.5", "--steps", "2"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["guidance"] == 1.0


def test_removing_an_old_copy_never_follows_a_linked_subfolder(tmp_path):
    """A manifest listing "vae/config.json" deletes nothing through a "vae" link (a leftover old copy)."""
    from clapcli.models.conversion.output_dir import CONVERT, MANIFEST
    from clapcli.models.written_dir import remove_written

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.json").write_text("keep me")
    old = tmp_path / "old"
    (old / "unet").mkdir(parents=True)
    (old / "unet" / "config.json").write_text("{}")
    (old / "vae").symlink_to(elsewhere)
    files = ["vae/config.json", "unet/config.json"]
    (old / MANIFEST).write_text(json.dumps({"written_by": "clapcli convert", "files": files}))
    remove_written(old, CONVERT)
    assert (elsewhere / "config.json").read_text() == "keep me"
    assert not (old / "unet").exists()


def test_noise_channels_in_the_bottleneck_are_refused(run, release, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = _copy(release, tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    state["pretransform.model.bottleneck.noise_scaling_factor"] = torch.ones(1, 2, 1)
    save_file(state, str(folder / "model.safetensors"))
    line = _one_line_failure(run, ["convert", "stable-audio-3", folder, tmp_path / "out"])
    assert "appends 2 noise channel(s)" in line
