"""Audio front end: every format, rate and channel layout decodes; broken files fail with a reason."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from clapcli.audio.decode import load_audio, resample, to_mono
from clapcli.errors import InputError

EXPECTED_SECONDS = {
    "wav_pcm_u8": 1.0, "wav_pcm_16": 1.0, "wav_pcm_24": 1.0, "wav_pcm_32": 1.0, "wav_float": 1.0,
    "wav_stereo_44k": 2.0, "wav_6ch_48k": 1.0, "wav_8k": 1.5, "flac": 1.0, "ogg": 1.0, "opus": 1.0,
    "mp3": 1.0, "m4a": 1.0,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SECONDS))
def test_every_format_decodes_to_mono_at_target_rate(audio_files, name):
    decoded = load_audio(audio_files[name], 48000)
    assert decoded.samples.ndim == 1 and decoded.samples.dtype == np.float32
    assert decoded.sample_rate == 48000
    # Lossy codecs add priming/padding frames (AAC ~1024+ samples): allow 60 ms.
    assert abs(decoded.duration - EXPECTED_SECONDS[name]) < 0.06
    assert np.isfinite(decoded.samples).all()
    assert 0.05 < np.sqrt(np.mean(decoded.samples**2)) < 0.8


def test_lossless_tone_survives_resampling(audio_files):
    decoded = load_audio(audio_files["wav_pcm_24"], 48000)
    t = np.arange(len(decoded.samples)) / 48000
    reference = 0.5 * np.sin(2 * np.pi * 440 * t)
    middle = slice(4800, -4800)  # resampler edges
    assert np.abs(decoded.samples[middle] - reference[middle]).max() < 1e-3


def test_downmix_is_the_channel_mean(audio_files):
    stereo, rate = sf.read(audio_files["wav_stereo_44k"], dtype="float32")
    decoded = load_audio(audio_files["wav_stereo_44k"], None)
    assert decoded.sample_rate == rate == 44100
    np.testing.assert_allclose(decoded.samples, stereo.mean(axis=1), atol=1e-7)


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_to_mono_equals_numpy_mean_exactly(channels):
    samples = np.random.default_rng(channels).standard_normal((4801, channels)).astype(np.float32)
    mono = to_mono(samples)
    assert mono.dtype == np.float32 and mono.flags.c_contiguous
    assert np.array_equal(mono, samples.mean(axis=1))
    assert np.shares_memory(mono, samples) is False  # callers may keep or drop the decoded array


def test_to_mono_and_resample_shapes():
    assert to_mono(np.ones((10, 3), np.float32)).shape == (10,)
    assert len(resample(np.zeros(16000, np.float32), 16000, 48000)) == 48000


@pytest.mark.parametrize(
    "name, reason",
    [
        ("empty", "empty file"),
        ("truncated", "not a readable audio file"),
        ("not_audio", "not a readable audio file"),
        ("header_only", "contains no audio samples"),
        ("nan", "NaN or infinite"),
    ],
)
def test_broken_files_raise_one_line_reason(broken_files, name, reason):
    with pytest.raises(InputError) as info:
        load_audio(broken_files[name], 48000)
    message = str(info.value)
    assert str(broken_files[name]) in message and reason in message
    assert "\n" not in message


def test_directory_and_missing_path(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        load_audio(tmp_path, 48000)
    with pytest.raises(InputError, match="no such file"):
        load_audio(tmp_path / "missing.wav", 48000)
    link = tmp_path / "link.wav"
    link.symlink_to(tmp_path / "deleted.wav")
    with pytest.raises(InputError, match="link.wav: a link to a missing file"):
        load_audio(link, 48000)
