"""Audio output: peak safety, resampling, formats, tags, atomic writes, progress counting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from clapcli.core.generate.output import PEAK_LIMIT, audio_format, file_tags, prepare_samples, write_audio_file
from clapcli.errors import UsageError


def test_quiet_audio_is_untouched():
    samples = (0.5 * np.sin(np.linspace(0, 200, 16000))).astype(np.float32)
    out, rate, gain = prepare_samples(samples, 16000, None)
    assert rate == 16000 and gain == 1.0 and np.array_equal(out, samples)


def test_loud_audio_is_scaled_not_clipped():
    samples = np.array([0.0, 1.7, -2.5, 0.25], dtype=np.float32)
    out, _, gain = prepare_samples(samples, 16000, None)
    assert gain == pytest.approx(PEAK_LIMIT / 2.5)
    assert np.max(np.abs(out)) == pytest.approx(PEAK_LIMIT)
    assert np.allclose(out / gain, samples, atol=1e-6)  # shape kept: scaled, not clipped


def test_resampling_overshoot_is_limited():
    square = np.sign(np.sin(np.linspace(0, 60 * np.pi, 16000))).astype(np.float32) * 0.98
    out, rate, _ = prepare_samples(square, 16000, 44100)
    assert rate == 44100 and len(out) == 44100
    assert np.max(np.abs(out)) <= PEAK_LIMIT + 1e-6  # Gibbs overshoot would exceed 1.0 without the limit


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
def test_formats_round_trip_with_tags(tmp_path: Path, fmt):
    samples = (0.3 * np.sin(np.linspace(0, 800, 8000))).astype(np.float32)
    path = tmp_path / f"x.{fmt}"
    tags = file_tags({"prompt": "a bell", "seed": 7, "model": "m", "steps": 20})
    write_audio_file(path, samples, 16000, fmt, tags)
    back, rate = sf.read(str(path), dtype="float32")
    assert rate == 16000 and len(back) == 8000
    assert np.max(np.abs(back - samples)) < (0.05 if fmt == "ogg" else 1 / 32768 + 1e-7)
    with sf.SoundFile(str(path)) as sound:
        assert sound.title == "a bell" and json.loads(sound.comment)["seed"] == 7
        assert sound.software.startswith("clapcli")


def test_audio_format_choice():
    assert audio_format(Path("x.FLAC"), None) == "flac"
    assert audio_format(Path("x"), None) == "wav"
    assert audio_format(None, "ogg") == "ogg"
    with pytest.raises(UsageError):
        audio_format(Path("x.mp3"), None)


def test_progress_counts_every_unet_pass(generator):
    from clapcli.core.generate import GenerationSettings

    for scheduler, steps in (("dpm", 3), ("heun", 3)):
        calls: list[int] = []
        settings = GenerationSettings(steps=steps, seconds=0.32, seed=0, scheduler=scheduler)
        generator.generate("a bell", settings, on_step=calls.append)
        assert sum(calls) == generator.planned_steps(generator.check(settings)) == (3 if scheduler == "dpm" else 5)
