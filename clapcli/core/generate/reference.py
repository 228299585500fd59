"""The recording an audio-to-audio run starts from (``--init-audio``, ``--inpaint``): decoded with its
channels kept, resampled to the model's rate (soxr, as ``clap embed`` resamples), laid out as the
pipelines take it, (1, channels, samples); mono is copied to both channels of a stereo model, more
channels than the model's are averaged."""

from __future__ import annotations

from typing import Any

import numpy as np

from clapcli.errors import InputError


def _read(path: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as exc:  # soundfile raises LibsndfileError (a RuntimeError) on bad files
        if not _exists(path):
            raise InputError(f"{path}: no such file") from None
        raise InputError(f"{path}: cannot be read as audio ({str(exc).splitlines()[0][:120]})") from None
    if samples.size == 0:
        raise InputError(f"{path}: contains no audio samples")
    if not np.isfinite(samples).all():
        raise InputError(f"{path}: contains NaN or infinite samples; re-export the file")
    return samples, int(rate)


def _exists(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_file()


def reference_seconds(path: str) -> float:
    """The recording's length in seconds."""
    samples, rate = _read(path)
    return len(samples) / rate


def load_reference(path: str, rate: int, channels: int) -> Any:
    """(1, channels, samples) float32 torch tensor at ``rate``."""
    import torch

    from clapcli.audio.decode import resample

    samples, source_rate = _read(path)
    if samples.shape[1] != channels:
        mono = samples.mean(axis=1, keepdims=True)
        samples = np.repeat(mono, channels, axis=1) if channels > 1 else mono
    samples = np.ascontiguousarray(resample(samples, source_rate, rate, path), dtype=np.float32)
    return torch.from_numpy(samples.T.copy()).unsqueeze(0)
