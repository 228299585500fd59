"""Our log-mel equals transformers' ClapFeatureExtractor (DESIGN.md §4: <= 1e-4 dB)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from audio_fixtures import noise, tone
from transformers import ClapFeatureExtractor

from clapcli.audio.features import fusion_mel, log_mel, repeat_pad
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
