"""Our log-mel equals transformers' ClapFeatureExtractor (docs/design.md §2: <= 1e-4 dB)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from audio_fixtures import noise, tone
from transformers import ClapFeatureExtractor

from clapcli.audio.features import MelSpec, fusion_mel, log_mel, log_mel_numpy, mel_filters
from clapcli.audio.windows import repeat_pad
from clapcli.models.laion import mel_spec_for

RATE = 48000
WINDOW = 480000
TOLERANCE_DB = 1e-4


@pytest.fixture(scope="module")
def unfused() -> ClapFeatureExtractor:
    return ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")


@pytest.fixture(scope="module")
def fused() -> ClapFeatureExtractor:
    return ClapFeatureExtractor(truncation="fusion", padding="repeatpad")


def reference(extractor: ClapFeatureExtractor, clips: list[np.ndarray]) -> np.ndarray:
    return extractor(clips, sampling_rate=RATE, return_tensors="np")["input_features"]


def ours(extractor: ClapFeatureExtractor, clips: list[np.ndarray]) -> np.ndarray:
    windows = np.stack([repeat_pad(clip, WINDOW) for clip in clips])
    return log_mel(windows, mel_spec_for(extractor)).numpy()


CLIPS = {
    "pure tone 440 Hz": lambda: tone(10.0, RATE, 440.0),
    "pure tone 13.9 kHz": lambda: tone(10.0, RATE, 13900.0, amplitude=0.9),
    "quiet tone": lambda: tone(10.0, RATE, 1000.0, amplitude=1e-3),
    "white noise": lambda: noise(10.0, RATE, seed=1),
    "short 0.7 s (repeat-padded)": lambda: tone(0.7, RATE, 300.0) + noise(0.7, RATE, seed=2, amplitude=0.05),
    "silence": lambda: np.zeros(RATE * 3, dtype=np.float32),
}


@pytest.mark.parametrize("name", list(CLIPS))
def test_log_mel_matches_extractor(unfused: ClapFeatureExtractor, name: str) -> None:
    clip = CLIPS[name]()
    expected = reference(unfused, [clip])[:, 0]
    assert np.abs(ours(unfused, [clip]) - expected).max() <= TOLERANCE_DB


def test_batched_equals_one_by_one(unfused: ClapFeatureExtractor) -> None:
    clips = [CLIPS["white noise"](), CLIPS["pure tone 440 Hz"](), CLIPS["silence"]()]
    batched = ours(unfused, clips)
    for i, clip in enumerate(clips):
        assert np.array_equal(batched[i], ours(unfused, [clip])[0])


def test_torch_path_equals_cpu_path(unfused: ClapFeatureExtractor) -> None:
    """The accelerator path (torch FFT) gives the same numbers as the CPU path (scipy FFT)."""
    from clapcli.audio.features import _log_mel_torch

    windows = np.stack([CLIPS["pure tone 440 Hz"](), CLIPS["white noise"]()])
    spec = mel_spec_for(unfused)
    via_torch = _log_mel_torch(torch.from_numpy(windows), spec, torch.device("cpu")).numpy()
    assert np.abs(via_torch - log_mel(windows, spec).numpy()).max() <= 1e-6


def test_fusion_short_clip_uses_htk_filterbank(fused: ClapFeatureExtractor) -> None:
    clip = tone(4.0, RATE, 800.0) + noise(4.0, RATE, seed=5, amplitude=0.02)
    expected = reference(fused, [clip])[0]  # four identical HTK mels
    assert expected.shape[0] == 4
    assert np.abs(ours(fused, [clip])[0] - expected[0]).max() <= TOLERANCE_DB


def test_fusion_long_clip_stack(fused: ClapFeatureExtractor, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 15 s clip: shrunk whole + three crops. The reference picks crops at random; pin it to the
    middle of each third, which is what ``fusion_mel`` takes."""
    clip = np.concatenate([tone(7.5, RATE, 500.0), noise(7.5, RATE, seed=6)])
    monkeypatch.setattr(np.random, "choice", lambda values: values[len(values) // 2])
    expected = reference(fused, [clip])[0]
    mel = log_mel(clip, mel_spec_for(fused))[0]
    stack = fusion_mel(mel, WINDOW // 480 + 1).float().numpy()
    assert stack.shape == expected.shape == (4, 1001, 64)
    assert np.abs(stack[1:] - expected[1:]).max() <= TOLERANCE_DB
    assert np.abs(stack[0] - expected[0]).max() <= TOLERANCE_DB  # the bilinear shrink (float32 on both sides)


def test_prepared_on_cpu_equals_batched_features(loaded_clap) -> None:
    """Features computed per item in the decode threads (CPU) equal the batched path (accelerators)."""
    clips = [tone(2.0, RATE, 440.0), noise(12.0, RATE, seed=7)]  # short and long ("mean" of 2 windows)
    prepared = [loaded_clap.prepare(c) for c in clips]
    raw = [loaded_clap.cut(c) for c in clips]
    assert all(item.has_mels and item.windows.size == 0 for item in prepared)
    assert [loaded_clap.items_cost(i) for i in prepared] == [1, 2]
    assert torch.equal(loaded_clap.encode_prepared(prepared), loaded_clap.encode_prepared(raw))


FILTERBANKS = {
    "LAION (Slaney)": MelSpec(48000, 1024, 480, 64, 50.0, 14000.0, "slaney"),
    "LAION fusion (HTK)": MelSpec(48000, 1024, 480, 64, 50.0, 14000.0, "htk"),
    "MS-CLAP (built for 32 kHz)": MelSpec(44100, 1024, 320, 64, 50.0, 14000.0, "slaney", 32000),
    "full band": MelSpec(48000, 1024, 480, 64, 0.0, 24000.0, "slaney"),
    "an empty band (too many mels)": MelSpec(16000, 400, 160, 128, 0.0, 8000.0, "htk"),
}


@pytest.mark.parametrize("name", list(FILTERBANKS))
def test_filterbank_is_transformers_bit_for_bit(name: str) -> None:
    import warnings

    from transformers.audio_utils import mel_filter_bank

    spec = FILTERBANKS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its note on the empty band; the numbers are what is compared
        want = mel_filter_bank(num_frequency_bins=spec.n_fft // 2 + 1, num_mel_filters=spec.n_mels,
                               min_frequency=spec.f_min, max_frequency=spec.f_max,
                               sampling_rate=spec.filterbank_rate or spec.sample_rate,
                               norm="slaney" if spec.scale == "slaney" else None, mel_scale=spec.scale)
    np.testing.assert_array_equal(mel_filters(spec), want)


@pytest.mark.parametrize("name", list(FILTERBANKS))
def test_band_sums_equal_the_dense_filterbank_product(name: str) -> None:
    """The per-parity run sums (no BLAS, no scipy) give the plain power @ filters product."""
    spec = FILTERBANKS[name]
    clip = noise(3.0, spec.sample_rate, seed=4) + tone(3.0, spec.sample_rate, 440.0)
    half = spec.n_fft // 2
    padded = np.pad(clip.astype(np.float64), half, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, spec.n_fft)[:: spec.hop_length]
    power = np.abs(np.fft.rfft(frames * np.hanning(spec.n_fft + 1)[:-1], axis=-1)) ** 2
    want = 10 * np.log10(np.maximum(power @ mel_filters(spec), 1e-10))
    np.testing.assert_allclose(log_mel_numpy(clip, spec)[0], want, atol=1e-9)

