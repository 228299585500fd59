"""``clap generate`` with Stable Audio Open and Stable Audio 3 vs diffusers' pipelines called directly on the
same tiny random weights (same seed, steps, guidance, duration): the file holds the pipeline's waveform
within 16-bit PCM quantisation, at 44.1 kHz stereo."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

PROMPT = "heavy rain falls in a dense forest"
PCM_STEP = 1 / 32768  # one 16-bit step; rounding moves a sample by half of it


def pipeline_audio(cls_name: str, path: Path, seed: int, dtype: torch.dtype | None = None, **kwargs) -> np.ndarray:
    """The diffusers pipeline loaded afresh and called by hand: (candidates, samples, channels)."""
    import diffusers

    pipe = getattr(diffusers, cls_name).from_pretrained(path, **({"dtype": dtype} if dtype else {}))
    pipe.set_progress_bar_config(disable=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audio = pipe(PROMPT, generator=torch.Generator().manual_seed(seed), **kwargs).audios
    return audio.float().numpy().transpose(0, 2, 1)


def generate(run, model: Path, out: Path, *args) -> tuple[np.ndarray, dict]:
    result = run(["generate", PROMPT, "-m", model, "-o", out, "-f", "json", *args])
    assert result.exit_code == 0, result.stderr
    [record] = json.loads(result.stdout)
    samples, rate = sf.read(out, dtype="float64", always_2d=True)
    assert rate == 44100 and samples.shape[1] == 2  # native rate and channels
    return samples, record


def assert_same_waveform(got: np.ndarray, expected: np.ndarray, gain: float) -> None:
    assert got.shape == expected.shape
    assert np.abs(expected).max() > 1e-2  # a real signal, not silence
    assert np.max(np.abs(got - expected * gain)) <= PCM_STEP


@pytest.mark.parametrize("extra, call", [
    ((), dict(guidance_scale=7.0)),  # the pipeline's defaults, which ours follow
    (("--guidance", "3", "--negative", "low quality"), dict(guidance_scale=3.0, negative_prompt="low quality")),
    (("--guidance", "1"), dict(guidance_scale=1.0)),
])
def test_stable_audio_open_file_equals_pipeline(run, tiny_sao, tmp_path, extra, call):
    got, record = generate(run, tiny_sao, tmp_path / "a.wav", "--seconds", "0.5", "--steps", "3", "--seed", "4",
                           *extra)
    expected = pipeline_audio("StableAudioPipeline", tiny_sao, 4, audio_end_in_s=0.5, num_inference_steps=3, **call)
    assert_same_waveform(got, expected[0], record["gain"])
    assert (record["steps"], record["guidance"], record["seconds"]) == (3, call["guidance_scale"], 0.5)


@pytest.mark.parametrize("extra, call", [
    ((), dict()),  # distilled defaults: guidance 1 (off), 8 steps
    (("--steps", "3", "--guidance", "2.5", "--negative", "low quality"),
     dict(num_inference_steps=3, guidance_scale=2.5, negative_prompt="low quality")),
])
def test_stable_audio_3_file_equals_pipeline(run, tiny_sa3, tmp_path, extra, call):
    got, record = generate(run, tiny_sa3, tmp_path / "a.wav", "--seconds", "0.5", "--seed", "9", *extra)
    expected = pipeline_audio("StableAudio3Pipeline", tiny_sa3, 9, duration=0.5, **call)
    assert_same_waveform(got, expected[0], record["gain"])
    assert record["steps"] == call.get("num_inference_steps", 8)
    assert record["guidance"] == call.get("guidance_scale", 1.0)


def test_bfloat16_equals_the_pipeline_loaded_in_bfloat16(run, tiny_sa3, tmp_path):
    """--dtype bfloat16 (4x faster than float32 on this CPU's native bf16) is the pipeline in bfloat16."""
    got, record = generate(run, tiny_sa3, tmp_path / "bf.wav", "--seconds", "0.5", "--seed", "9", "--steps", "3",
                           "--dtype", "bfloat16")
    expected = pipeline_audio("StableAudio3Pipeline", tiny_sa3, 9, dtype=torch.bfloat16, duration=0.5,
                              num_inference_steps=3)
    assert_same_waveform(got, expected[0], record["gain"])


def test_same_seed_same_file(run, tiny_sa3, tmp_path):
    for name in ("one.flac", "two.flac"):
        generate(run, tiny_sa3, tmp_path / name, "--seconds", "0.5", "--seed", "11", "--steps", "2")
    assert (tmp_path / "one.flac").read_bytes() == (tmp_path / "two.flac").read_bytes()
    generate(run, tiny_sa3, tmp_path / "three.flac", "--seconds", "0.5", "--seed", "12", "--steps", "2")
    assert (tmp_path / "three.flac").read_bytes() != (tmp_path / "one.flac").read_bytes()


@pytest.mark.parametrize("model, maximum", [("tiny_sao", "1.01587"), ("tiny_sa3", "2")])
def test_seconds_beyond_the_models_maximum_is_one_line_and_no_file(run, request, tmp_path, model, maximum):
    out = tmp_path / "long.wav"
    result = run(["generate", PROMPT, "-m", request.getfixturevalue(model), "-o", out, "--seconds", "2.5"])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: --seconds 2.5 is longer than model") and f"({maximum} s at most)" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_candidates_ranked_by_clap_on_a_mono_48k_copy(run, tiny_sa3, tiny_clap, tmp_path, monkeypatch):
    """Best of 3: the files are the pipeline's three waveforms in the order of the CLAP scores computed by
    hand (channel mean, soxr to 48 kHz, the embedding model's text and audio towers)."""
    from clapcli.audio.decode import resample
    from clapcli.models.loading import load_embedding_model

    monkeypatch.setenv("CLAPCLI_MODEL", str(tiny_clap))
    got, record = generate(run, tiny_sa3, tmp_path / "best.wav", "--seconds", "0.5", "--seed", "3", "--steps", "2",
                           "--candidates", "3", "--keep-candidates")
    expected = pipeline_audio("StableAudio3Pipeline", tiny_sa3, 3, duration=0.5, num_inference_steps=2,
                              num_waveforms_per_prompt=3)
    clap = load_embedding_model(str(tiny_clap), device="cpu")
    mono = [resample(clip.mean(axis=1).astype(np.float32), 44100, 48000) for clip in expected]
    audio = torch.nn.functional.normalize(clap.encode_prepared([clap.prepare(m) for m in mono]), dim=-1)
    text = torch.nn.functional.normalize(clap.encode_text([PROMPT]), dim=-1)[0]
    scores = (audio @ text).double().numpy()
    np.testing.assert_allclose(record["candidate_scores"], scores, atol=1e-5)
    order = list(np.argsort(-scores, kind="stable"))
    assert record["candidate"] == order[0]
    files = [tmp_path / "best.wav", tmp_path / "best.2.wav", tmp_path / "best.3.wav"]
    for path, index in zip(files, order):
        samples, _ = sf.read(path, dtype="float64", always_2d=True)
        peak = np.abs(expected[index]).max()
        assert np.max(np.abs(samples - expected[index] * min(1.0, 0.99 / peak))) <= PCM_STEP


def test_prompts_file_output_dir_flac_and_resampling(run, tiny_sa3, tmp_path):
    """Each prompt's file holds what that prompt alone gives (same seed), resampled to --sample-rate on request."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("rain on a roof\na dog barking\n")
    result = run(["generate", "-p", prompts, "-m", tiny_sa3, "-d", tmp_path / "out", "-f", "flac,jsonl",
                  "--seconds", "0.5", "--seed", "6", "--steps", "2", "--sample-rate", "48000"])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["prompt"] for r in records] == ["rain on a roof", "a dog barking"]
    for record, name in zip(records, ("001-rain-on-a-roof.flac", "002-a-dog-barking.flac")):
        assert Path(record["path"]) == tmp_path / "out" / name
        samples, rate = sf.read(record["path"], always_2d=True)
        assert (rate, samples.shape) == (48000, (24000, 2))
        alone = run(["generate", record["prompt"], "-m", tiny_sa3, "-o", tmp_path / "alone.flac", "--overwrite",
                     "--seconds", "0.5", "--seed", "6", "--steps", "2", "--sample-rate", "48000"])
        assert alone.exit_code == 0
        assert (tmp_path / "alone.flac").read_bytes() == Path(record["path"]).read_bytes()


def test_the_stable_audio_3_pipeline_itself_clamps_silently(tiny_sa3):
    """Why the CLI checks the maximum: past the duration embedder's max_val the pipeline runs anyway, with the
    conditioning of the maximum (the same embedding for 2 s and 3 s)."""
    import diffusers

    pipe = diffusers.StableAudio3Pipeline.from_pretrained(tiny_sa3)
    at_max, beyond = pipe.encode_duration(2.0, "cpu", 1, 1), pipe.encode_duration(3.0, "cpu", 1, 1)
    assert pipe.duration_embedder.config.max_val == 2.0
    assert torch.equal(at_max, beyond)


def test_candidates_without_a_clap_model_is_one_line_before_generating(run, tiny_sa3, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_MODEL", str(tmp_path / "no-such-clap"))
    out = tmp_path / "best.wav"
    result = run(["generate", PROMPT, "-m", tiny_sa3, "-o", out, "--seconds", "0.5", "--candidates", "2"])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ranking candidates by CLAP score needs a CLAP model (CLAPCLI_MODEL sets which): ")
    assert not out.exists()
