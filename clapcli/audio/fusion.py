"""A long clip's fused LAION input in numpy: the torch ``features.fusion_mel``'s numbers without torch,
for the exported runtimes (and decode threads, which must not run torch ops).

The stack is the whole clip's log-mel shrunk to one window by bilinear interpolation (as
``torch.nn.functional.interpolate(..., mode="bilinear", align_corners=False)``) plus three crops
(``crop_starts``). To give torch's float32 numbers bit for bit, the shrink repeats its CPU kernel's
arithmetic: scale, source index and weights in float32, and the two fused multiply-adds its
vectorized builds contract (source index; the second tap added to the rounded first).
Rounding in float64 instead drifts by up to 0.05 dB on long clips, as the index error grows with
the clip's length.
"""

from __future__ import annotations

import numpy as np

from clapcli.audio.windows import crop_starts

_F32 = np.float32


def shrink(mel: np.ndarray, chunk_frames: int) -> np.ndarray:
    """(frames, n_mels) float32 -> (chunk_frames, n_mels): torch's bilinear resize of the time axis
    (the mel axis keeps its size, where torch's weights are exactly 1 and 0)."""
    mel = np.asarray(mel, dtype=_F32)
    total = mel.shape[0]
    scale = _F32(total) / _F32(chunk_frames)
    centers = np.arange(chunk_frames, dtype=_F32) + _F32(0.5)
    source = (np.float64(scale) * centers.astype(np.float64) - 0.5).astype(_F32)  # one rounding: an FMA
    source = np.maximum(source, _F32(0))
    first = np.minimum(np.floor(source).astype(np.int64), total - 1)
    weight = np.clip(source - first.astype(_F32), _F32(0), _F32(1))[:, None]
    second = np.minimum(first + 1, total - 1)
    later = mel[second] * weight  # rounded to float32, then added to the exact first product (an FMA)
    return (mel[first].astype(np.float64) * (_F32(1) - weight).astype(np.float64) + later).astype(_F32)


def fusion_mel_numpy(mel: np.ndarray, chunk_frames: int) -> np.ndarray:
    """(frames, n_mels) float32 of a long clip -> (4, chunk_frames, n_mels) float32: the shrunk
    clip, then the front, middle and back crops (``features.fusion_mel``'s layout)."""
    mel = np.asarray(mel, dtype=_F32)
    crops = [mel[start : start + chunk_frames] for start in crop_starts(mel.shape[0], chunk_frames)]
    return np.stack([shrink(mel, chunk_frames), *crops])
