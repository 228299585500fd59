"""Batched log-mel features in torch, equal to transformers' ``ClapFeatureExtractor``.

Computed in float64 (float32 drifts up to 0.05 dB on pure tones, docs/design.md §2) on the model's
device, so a whole batch of windows is one STFT call instead of a Python loop per clip.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from clapcli.audio.windows import crop_starts

if TYPE_CHECKING:  # imported where used: the numpy path (prepare, exported runtimes) runs without torch
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
    """(n_fft // 2 + 1, n_mels) filterbank, float64: the arithmetic of transformers'
    ``audio_utils.mel_filter_bank`` (Slaney-normalized on the Slaney scale, unnormalized on HTK), so
    the numbers equal its extractor's (tested bit for bit). Written out rather than imported: importing
    transformers costs about 0.5 s per run, and the exported runtimes need nothing else from it."""
    rate = spec.filterbank_rate or spec.sample_rate
    bins = spec.n_fft // 2 + 1
    mel_points = np.linspace(_hz_to_mel(spec.f_min, spec.scale), _hz_to_mel(spec.f_max, spec.scale), spec.n_mels + 2)
    edges = _mel_to_hz(mel_points, spec.scale)  # filter k rises from edges[k], peaks at k + 1, falls to k + 2
    fft_freqs = np.linspace(0, rate // 2, bins)
    widths = np.diff(edges)
    slopes = edges[None, :] - fft_freqs[:, None]
    rising, falling = -slopes[:, :-2] / widths[:-1], slopes[:, 2:] / widths[1:]
    filters = np.maximum(np.zeros(1), np.minimum(rising, falling))
    if spec.scale == "slaney":  # equal area per band
        filters *= np.expand_dims(2.0 / (edges[2 : spec.n_mels + 2] - edges[: spec.n_mels]), 0)
    return filters


def _hz_to_mel(freq: float, scale: str) -> float:
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + freq / 700.0)
    if freq < 1000.0:  # Slaney: linear below 1 kHz, logarithmic above
        return 3.0 * freq / 200.0
    return 15.0 + np.log(freq / 1000.0) * (27.0 / np.log(6.4))


def _mel_to_hz(mels: np.ndarray, scale: str) -> np.ndarray:
    if scale == "htk":
        return 700.0 * (np.power(10, mels / 2595.0) - 1.0)
    freqs = 200.0 * mels / 3.0
    high = mels >= 15.0
    freqs[high] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mels[high] - 15.0))
    return freqs


def _compute_dtype(device: torch.device) -> torch.dtype:
    import torch

    return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64


def log_mel(waveforms: torch.Tensor | np.ndarray, spec: MelSpec, device: torch.device | str = "cpu") -> torch.Tensor:
    """(batch, samples) -> (batch, frames, n_mels) log-mel in dB, float64 (float32 on MPS).

    Each clip's numbers do not depend on the batch it came in (clips are computed one by one on
    the CPU, and by the same ops on other devices)."""
    import torch

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
    _log_mel_frames(_reflect_pad(clip, spec.n_fft // 2), spec, out)


def _log_mel_frames(padded: np.ndarray, spec: MelSpec, out: np.ndarray) -> None:
    """Log-mel of the ``len(out)`` frames starting at ``padded[0]`` (``padded``: samples with the
    clip's reflect padding where it has edges), into ``out`` (float64)."""
    from numpy.lib.stride_tricks import as_strided

    step = padded.strides[0]
    framed = as_strided(padded, (out.shape[0], spec.n_fft), (spec.hop_length * step, step), writeable=False)
    window = _window(spec.n_fft)
    bands = _bands(spec)
    buffer = _frame_buffer(spec.n_fft)
    for start in range(0, out.shape[0], _BLOCK_FRAMES):
        block = buffer[: min(_BLOCK_FRAMES, out.shape[0] - start)]
        np.multiply(framed[start : start + len(block)], window, out=block)  # float32 samples -> float64
        spectrum = np.fft.rfft(block, axis=-1)
        used = spectrum[:, : bands.bins].view(np.float64)  # (frames, 2 * bins): re, im interleaved
        np.square(used, out=used)
        bands.apply(used[:, 0::2] + used[:, 1::2], out[start : start + len(block)])
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


class _Bands:
    """The mel filterbank applied to power spectra without BLAS or scipy (both stay out of the decode
    threads and out of start-up). Triangular filters k and k + 2 never overlap, so the even bands
    (and the odd ones) each own disjoint runs of FFT bins: one weighted sum per run, ``np.add.reduceat``
    over the bins in order, as a sparse product sums them."""

    def __init__(self, filters: np.ndarray) -> None:
        self.filters = filters  # (used bins, n_mels)
        self.bins = filters.shape[0]
        firsts = [np.flatnonzero(column) for column in filters.T]
        self.dense = any(len(nonzero) == 0 for nonzero in firsts)  # an empty band: plain product instead
        self.runs = []
        for parity in (0, 1):
            bands = np.arange(parity, filters.shape[1], 2)
            weights = filters[:, bands].sum(axis=1)  # one band per bin within a parity: its own weight
            starts = np.array([firsts[band][0] for band in bands] if not self.dense else [], dtype=np.intp)
            self.runs.append((bands, weights, starts))

    def apply(self, power: np.ndarray, out: np.ndarray) -> None:
        if self.dense:
            out[:] = power @ self.filters
            return
        for bands, weights, starts in self.runs:
            if len(bands):
                out[:, bands] = np.add.reduceat(power * weights, starts, axis=1)


@lru_cache(maxsize=8)
def _bands(spec: MelSpec) -> _Bands:
    return _Bands(_used_filters(spec))


def _log_mel_torch(waveforms: torch.Tensor, spec: MelSpec, device: torch.device) -> torch.Tensor:
    import torch

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
    import torch

    half = spec.n_fft // 2
    padded = torch.nn.functional.pad(audio[:, None], (half, half), mode="reflect")[:, 0]
    window = torch.hann_window(spec.n_fft, periodic=True, dtype=audio.dtype, device=audio.device)
    frames = padded.unfold(-1, spec.n_fft, spec.hop_length) * window  # (batch, frames, n_fft)
    spectrum = torch.fft.rfft(frames, dim=-1)[..., : filters.shape[0]]
    power = spectrum.real.square() + spectrum.imag.square()
    return 10.0 * torch.log10((power @ filters).clamp_min(1e-10))


def log_mel_of_blocks(blocks: Iterable[np.ndarray], length: int, spec: MelSpec) -> np.ndarray:
    """(frames, n_mels) float32 log-mel of a whole clip of ``length`` samples given in blocks: the
    numbers of ``log_mel_numpy(clip)[0].astype(float32)``, holding the mel (1/7.5 of the samples
    for LAION's 64 mels per 480-sample hop) and about one block of samples, never the clip."""
    half = spec.n_fft // 2
    if length <= half:  # numpy's repeated reflection needs the whole (tiny) clip
        return log_mel_numpy(np.concatenate(list(blocks)), spec)[0].astype(np.float32)
    out = np.empty((1 + length // spec.hop_length, spec.n_mels), dtype=np.float32)
    done = 0  # frames written
    pending = np.empty(0, dtype=np.float32)  # padded samples from frame ``done``'s first on
    tail = np.empty(0, dtype=np.float32)  # the clip's last half + 1 samples so far (the end's reflection)
    started = False
    for block in blocks:
        tail = np.concatenate([tail, block])[-(half + 1):]
        pending = np.concatenate([pending, block])
        if not started and len(pending) > half:
            pending = np.concatenate([pending[half:0:-1], pending])  # the start's reflection
            started = True
        if started:
            done, pending = _mel_rows(pending, spec, out, done)
    if not started:
        raise ValueError("the clip ended before its length")
    done, _ = _mel_rows(np.concatenate([pending, tail[-2::-1]]), spec, out, done)
    if done != len(out):
        raise ValueError("the clip ended before its length")
    return out


def _mel_rows(padded: np.ndarray, spec: MelSpec, out: np.ndarray, done: int) -> tuple[int, np.ndarray]:
    """Fill the frames of ``out`` from ``done`` on that ``padded`` holds whole; the samples left over."""
    count = min(len(out) - done, max(0, 1 + (len(padded) - spec.n_fft) // spec.hop_length))
    if count:
        rows = np.empty((count, spec.n_mels), dtype=np.float64)
        _log_mel_frames(padded, spec, rows)
        out[done : done + count] = rows
    return done + count, padded[count * spec.hop_length :]


def fusion_mel(mel: torch.Tensor, chunk_frames: int) -> torch.Tensor:
    """(frames, n_mels) of a long clip -> (4, chunk_frames, n_mels): the whole clip shrunk, plus
    crops from the front, middle and back thirds. The reference picks crops at random; we take
    the middle of each third so the same input always gives the same numbers. Its numpy twin:
    ``clapcli.audio.fusion.fusion_mel_numpy``."""
    import torch

    crops = [mel[s : s + chunk_frames] for s in crop_starts(mel.shape[0], chunk_frames)]
    shrunk = torch.nn.functional.interpolate(
        mel[None, None].float(), size=[chunk_frames, mel.shape[1]], mode="bilinear", align_corners=False
    )[0, 0].to(mel.dtype)
    return torch.stack([shrunk, *crops])
