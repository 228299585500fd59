"""Batched log-mel features in torch, equal to transformers' ``ClapFeatureExtractor``.

Computed in float64 (float32 drifts up to 0.05 dB on pure tones, DESIGN.md §4) on the model's
device, so a whole batch of windows is one STFT call instead of a Python loop per clip.
"""

from __future__ import annotations

import threading
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
    """(batch, samples) -> (batch, frames, n_mels) log-mel in dB, float64 (float32 on MPS).

    Each clip's numbers do not depend on the batch it came in (clips are computed one by one on
    the CPU, and by the same ops on other devices)."""
    device = torch.device(device)
    if device.type == "cpu":
        audio = waveforms.numpy() if isinstance(waveforms, torch.Tensor) else np.asarray(waveforms)
        return torch.from_numpy(log_mel_numpy(audio, spec))
    return _log_mel_torch(torch.as_tensor(waveforms), spec, device)


def log_mel_numpy(waveforms: np.ndarray, spec: MelSpec) -> np.ndarray:
    """The CPU path: (batch, samples) or (samples,) -> (batch, frames, n_mels) float64.

    Float64 arithmetic, as the reference. Frames go through in blocks of ``_BLOCK_FRAMES`` with one
    frame buffer per thread, reused: the working set (2 MB) stays in cache, memory does not grow
    with the clip's length (an hour of audio would need 3 GB of frames at once), and no fresh
    pages are faulted in per clip (2.4x faster than whole-clip buffers). The power spectrum goes
    through the mel filterbank as a sparse matrix (each FFT bin feeds at most two mel bands)."""
    audio = np.atleast_2d(waveforms)
    frames = 1 + audio.shape[1] // spec.hop_length  # center padding by n_fft // 2 on both sides
    out = np.empty((audio.shape[0], frames, spec.n_mels), dtype=np.float64)
    for row, clip in enumerate(audio):
        _log_mel_clip(clip, spec, out[row])
    return out


_BLOCK_FRAMES = 256
_thread_buffers = threading.local()


def _frame_buffer(n_fft: int) -> np.ndarray:
    buffer = getattr(_thread_buffers, "frames", None)
    if buffer is None or buffer.shape[1] != n_fft:
        buffer = _thread_buffers.frames = np.empty((_BLOCK_FRAMES, n_fft), dtype=np.float64)
    return buffer


def _log_mel_clip(clip: np.ndarray, spec: MelSpec, out: np.ndarray) -> None:
    import scipy.fft
    from numpy.lib.stride_tricks import as_strided

    padded = _reflect_pad(clip, spec.n_fft // 2)
    step = padded.strides[0]
    framed = as_strided(padded, (out.shape[0], spec.n_fft), (spec.hop_length * step, step), writeable=False)
    window = _window(spec.n_fft)
    filters = _sparse_filters(spec)
    buffer = _frame_buffer(spec.n_fft)
    for start in range(0, out.shape[0], _BLOCK_FRAMES):
        block = buffer[: min(_BLOCK_FRAMES, out.shape[0] - start)]
        np.multiply(framed[start : start + len(block)], window, out=block)  # float32 samples -> float64
        spectrum = scipy.fft.rfft(block, axis=-1, overwrite_x=True)
        used = spectrum[:, : filters.shape[1]].view(np.float64)  # (frames, 2 * bins): re, im interleaved
        np.square(used, out=used)
        power = used[:, 0::2] + used[:, 1::2]
        out[start : start + len(block)] = (filters @ power.T).T
    np.maximum(out, 1e-10, out=out)
    np.log10(out, out=out)
    out *= 10.0


def _reflect_pad(clip: np.ndarray, half: int) -> np.ndarray:
    """``clip`` with ``half`` reflected samples on each side (numpy's "reflect"), in its own dtype:
    the frame multiply converts to float64, so padding float32 gives the same numbers at half the memory."""
    if len(clip) <= half:
        return np.pad(clip, half, mode="reflect")  # repeated reflection, as numpy does
    padded = np.empty(len(clip) + 2 * half, dtype=clip.dtype)
    padded[half:-half] = clip
    padded[:half] = clip[half:0:-1]
    padded[-half:] = clip[-2 : -half - 2 : -1]
    return padded


@lru_cache(maxsize=4)
def _window(n_fft: int) -> np.ndarray:
    return np.hanning(n_fft + 1)[:-1]  # periodic Hann, as transformers' window_function("hann")


@lru_cache(maxsize=8)
def _sparse_filters(spec: MelSpec):  # -> scipy.sparse.csr_matrix (n_mels, used bins)
    import scipy.sparse

    return scipy.sparse.csr_matrix(_used_filters(spec).T)


def _log_mel_torch(waveforms: torch.Tensor, spec: MelSpec, device: torch.device) -> torch.Tensor:
    dtype = _compute_dtype(device)
    audio = waveforms.to(device=device, dtype=dtype)
    if audio.ndim == 1:
        audio = audio[None]
    filters = torch.as_tensor(_used_filters(spec), dtype=dtype, device=device)
    return torch.cat([_log_mel_chunk(chunk, spec, filters) for chunk in audio.split(_CHUNK)])


_CHUNK = 8  # clips per FFT call on accelerators


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
    spectrum = torch.fft.rfft(frames, dim=-1)[..., : filters.shape[0]]
    power = spectrum.real.square() + spectrum.imag.square()
    return 10.0 * torch.log10((power @ filters).clamp_min(1e-10))


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
