"""Batched log-mel features in torch, equal to transformers' ``ClapFeatureExtractor``.

Computed in float64 (float32 drifts up to 0.05 dB on pure tones, DESIGN.md §4) on the model's
device, so a whole batch of windows is one STFT call instead of a Python loop per clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch


@dataclass(frozen=True)
class MelSpec:
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    f_min: float
    f_max: float
    scale: str  # "slaney" (librosa-style, unfused) or "htk" (fusion checkpoints)
    # Rate the filterbank is built for; MS-CLAP builds it for 32 kHz while audio runs at 44.1 kHz.
    filterbank_rate: int | None = None


@lru_cache(maxsize=8)
def mel_filters(spec: MelSpec) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) filterbank, from transformers so numbers match its extractor."""
    from transformers.audio_utils import mel_filter_bank

    return mel_filter_bank(
        num_frequency_bins=spec.n_fft // 2 + 1,
        num_mel_filters=spec.n_mels,
        min_frequency=spec.f_min,
        max_frequency=spec.f_max,
        sampling_rate=spec.filterbank_rate or spec.sample_rate,
        norm="slaney" if spec.scale == "slaney" else None,
        mel_scale=spec.scale,
    )


def _compute_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64


def log_mel(waveforms: torch.Tensor | np.ndarray, spec: MelSpec, device: torch.device | str = "cpu") -> torch.Tensor:
    """(batch, samples) -> (batch, frames, n_mels) log-mel in dB, float64 (float32 on MPS)."""
    device = torch.device(device)
    dtype = _compute_dtype(device)
    audio = torch.as_tensor(waveforms).to(device=device, dtype=dtype)
    if audio.ndim == 1:
        audio = audio[None]
    filters = torch.as_tensor(_used_filters(spec), dtype=dtype, device=device)
    chunks = [_log_mel_chunk(chunk, spec, filters) for chunk in audio.split(_CHUNK)]
    return torch.cat(chunks)


_CHUNK = 2  # clips per FFT call: small chunks stay in cache (measured fastest on 2 cores)


@lru_cache(maxsize=8)
def _used_filters(spec: MelSpec) -> np.ndarray:
    """The filterbank without its all-zero top rows (above f_max): those bins need no power."""
    filters = mel_filters(spec)
    used = int(np.nonzero(filters.any(axis=1))[0].max()) + 1
    return np.ascontiguousarray(filters[:used])


def _log_mel_chunk(audio: torch.Tensor, spec: MelSpec, filters: torch.Tensor) -> torch.Tensor:
    half = spec.n_fft // 2
    padded = torch.nn.functional.pad(audio[:, None], (half, half), mode="reflect")[:, 0]
    window = torch.hann_window(spec.n_fft, periodic=True, dtype=audio.dtype, device=audio.device)
    frames = padded.unfold(-1, spec.n_fft, spec.hop_length) * window  # (batch, frames, n_fft)
    power = _power_spectrum(frames, filters.shape[0])  # (batch, frames, used bins)
    return 10.0 * torch.log10((power @ filters).clamp_min(1e-10))


def _power_spectrum(frames: torch.Tensor, bins: int) -> torch.Tensor:
    if frames.device.type == "cpu":
        # scipy's pocketfft uses every core for float64; torch's CPU FFT is 5x slower here.
        import scipy.fft

        spectrum = scipy.fft.rfft(frames.numpy(), axis=-1, workers=-1)[..., :bins]
        return torch.from_numpy(spectrum.real**2 + spectrum.imag**2)
    spectrum = torch.fft.rfft(frames, dim=-1)[..., :bins]
    return spectrum.real.square() + spectrum.imag.square()


def repeat_pad(samples: np.ndarray, length: int) -> np.ndarray:
    """Short clip -> ``length`` samples: repeat whole copies, then zero-pad (the reference's repeatpad)."""
    if len(samples) >= length:
        return samples[:length]
    repeats = length // len(samples)
    tiled = np.tile(samples, repeats)
    return np.pad(tiled, (0, length - len(tiled)))


def window_starts(n_samples: int, window: int, strategy: str) -> list[int]:
    """Deterministic window positions for audio longer than one window."""
    if n_samples <= window:
        return [0]
    if strategy == "head":
        return [0]
    if strategy == "center":
        return [(n_samples - window) // 2]
    # "mean": evenly spaced full windows covering the clip (the last one ends at the clip's end).
    count = -(-n_samples // window)
    return [round(i * (n_samples - window) / (count - 1)) for i in range(count)]


def fusion_mel(mel: torch.Tensor, chunk_frames: int) -> torch.Tensor:
    """(frames, n_mels) of a long clip -> (4, chunk_frames, n_mels): the whole clip shrunk, plus
    crops from the front, middle and back thirds. The reference picks crops at random; we take
    the middle of each third so the same input always gives the same numbers."""
    total = mel.shape[0]
    positions = np.array_split(np.arange(0, total - chunk_frames + 1), 3)
    starts = [int(part[len(part) // 2]) if len(part) else 0 for part in positions]
    crops = [mel[s : s + chunk_frames] for s in starts]
    shrunk = torch.nn.functional.interpolate(
        mel[None, None].float(), size=[chunk_frames, mel.shape[1]], mode="bilinear", align_corners=False
    )[0, 0].to(mel.dtype)
    return torch.stack([shrunk, *crops])
