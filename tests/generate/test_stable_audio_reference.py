"""Stable Audio 3 audio-to-audio through ``clap generate``: ``--init-audio --strength`` (diffusers'
``StableAudio3AudioToAudioPipeline``, ``init_noise_level``) and ``--inpaint --mask-start --mask-end``
(``StableAudio3InpaintPipeline``, ``mask_start_seconds`` / ``mask_end_seconds``) write the pipeline's waveform;
what does not apply is refused in one line before anything is written."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from .test_stable_audio_equality import PROMPT, assert_same_waveform, generate, pipeline_audio


@pytest.fixture
def recording(tmp_path):
    """0.6 s of stereo at 44.1 kHz in float WAV: read back bit for bit, so the pipeline gets the same input."""
    t = np.arange(int(0.6 * 44100)) / 44100
    samples = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], axis=1)
    path = tmp_path / "ref.wav"
    sf.write(path, samples.astype(np.float32), 44100, subtype="FLOAT")
    return path, torch.from_numpy(samples.astype(np.float32).T.copy()).unsqueeze(0)


def test_init_audio_with_strength_equals_the_audio_to_audio_pipeline(run, tiny_sa3, tmp_path, recording):
    path, tensor = recording
    got, record = generate(run, tiny_sa3, tmp_path / "v.wav", "--init-audio", path, "--strength", "0.6",
                           "--seed", "2", "--steps", "3")
    expected = pipeline_audio("StableAudio3AudioToAudioPipeline", tiny_sa3, 2, duration=0.6, audio=tensor,
                              init_noise_level=0.6, num_inference_steps=3)
    assert_same_waveform(got, expected[0], record["gain"])
    assert record["seconds"] == pytest.approx(0.6, abs=1e-4)  # the recording's length by default
    assert (record["init_audio"], record["strength"]) == (str(path), 0.6)
    plain, _ = generate(run, tiny_sa3, tmp_path / "p.wav", "--seconds", "0.6", "--seed", "2", "--steps", "3")
    assert np.max(np.abs(plain - got)) > 1e-3  # the recording changed the result


def test_inpaint_equals_the_inpainting_pipeline(run, tiny_sa3, tmp_path, recording):
    path, tensor = recording
    got, record = generate(run, tiny_sa3, tmp_path / "i.wav", "--inpaint", path, "--mask-start", "0.2",
                           "--mask-end", "0.4", "--seed", "5", "--steps", "2")
    expected = pipeline_audio("StableAudio3InpaintPipeline", tiny_sa3, 5, duration=0.6, audio=tensor,
                              mask_start_seconds=0.2, mask_end_seconds=0.4, num_inference_steps=2)
    assert_same_waveform(got, expected[0], record["gain"])


def test_a_mono_recording_at_another_rate_is_resampled_and_doubled(run, tiny_sa3, tmp_path):
    from clapcli.core.generate.reference import load_reference

    path = tmp_path / "mono.flac"
    sf.write(path, 0.4 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000), 16000)
    tensor = load_reference(str(path), 44100, 2)
    assert tensor.shape == (1, 2, 44100) and torch.equal(tensor[0, 0], tensor[0, 1])
    got, _ = generate(run, tiny_sa3, tmp_path / "m.wav", "--init-audio", path, "--strength", "0.5", "--seed", "1",
                      "--steps", "2")
    assert got.shape == (44100, 2)


@pytest.mark.parametrize("args, message", [
    (["--strength", "0.5"], "error: --strength goes with --init-audio"),
    (["--init-audio", "REF", "--strength", "1.5"], "error: --strength must be in (0, 1]"),
    (["--init-audio", "REF", "--guidance", "3"], "error: the Stable Audio 3 audio-to-audio pipelines have no guidance"),
    (["--inpaint", "REF"], "error: --inpaint needs the span to regenerate: --mask-start S --mask-end S"),
    (["--inpaint", "REF", "--mask-start", "0.5", "--mask-end", "0.9"], "error: --mask-start 0.5 .. --mask-end 0.9"),
    (["--init-audio", "REF", "--inpaint", "REF"], "error: give --init-audio (a variation) or --inpaint"),
    (["--init-audio", "missing.wav"], "error: missing.wav: no such file"),
    (["--negative", "low quality"], "error: --negative works through guidance, which is off at --guidance 1"),
    (["--scheduler", "ddim"], "error: --scheduler picks an AudioLDM 2 scheduler; Stable Audio 3 runs its own"),
])
def test_what_does_not_apply_is_one_line_and_no_file(run, tiny_sa3, tmp_path, recording, args, message):
    out = tmp_path / "out.wav"
    args = [str(recording[0]) if a == "REF" else a for a in args]
    result = run(["generate", PROMPT, "-m", tiny_sa3, "-o", out, *args])
    assert result.exit_code in (1, 2)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(message), line
    assert not out.exists()


def test_audio_to_audio_needs_stable_audio_3(run, tiny_sao, tmp_path, recording):
    result = run(["generate", PROMPT, "-m", tiny_sao, "-o", tmp_path / "o.wav", "--init-audio", recording[0]])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --init-audio needs a Stable Audio 3 model (its audio-to-audio pipelines)"
