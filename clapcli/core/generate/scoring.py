"""Candidate ranking by CLAP text-audio similarity, as the pipeline's ``score_waveforms`` does.

Differences on purpose: candidates are ranked per prompt (the pipeline's argsort runs across all
prompts of a batch), the ranking is never skipped (the pipeline silently returns unranked audio
without librosa), and audio longer than CLAP's 10 s window is scored as the mean over consecutive
windows instead of one random crop, so the same seed always picks the same file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from clapcli.errors import MissingDependencyError


def _resample_like_pipeline(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    try:
        import librosa
    except ImportError:
        raise MissingDependencyError(
            "ranking --candidates needs librosa (a clapcli dependency): pip install librosa"
        ) from None
    return librosa.resample(audio, orig_sr=rate, target_sr=target)


def _windows(clip: np.ndarray, window: int) -> list[np.ndarray]:
    """Consecutive windows; the extractor repeat-pads the short tail as it pads a short clip."""
    if len(clip) <= window:
        return [clip]
    return [clip[start:start + window] for start in range(0, len(clip), window)]


@torch.no_grad()
def clap_scores(pipe: Any, prompt: str, audio: np.ndarray, rate: int, device: Any, dtype: Any) -> np.ndarray:
    """Cosine similarity (CLAP space) of each candidate in ``audio`` (n, samples) to ``prompt``."""
    extractor = pipe.feature_extractor
    clap = pipe.text_encoder
    resampled = _resample_like_pipeline(audio, rate, extractor.sampling_rate)
    window = int(extractor.nb_max_samples)
    pieces: list[np.ndarray] = []
    owner: list[int] = []
    for index, clip in enumerate(resampled):
        for piece in _windows(clip, window):
            pieces.append(piece)
            owner.append(index)
    inputs = pipe.tokenizer([prompt], return_tensors="pt", padding=True)
    inputs["input_features"] = extractor(
        pieces, return_tensors="pt", sampling_rate=extractor.sampling_rate
    ).input_features.type(dtype)
    inputs = inputs.to(device)
    logits = clap(**inputs).logits_per_text[0].float().cpu().numpy()  # (pieces,)
    cosine = logits / float(clap.logit_scale_t.exp())
    owners = np.asarray(owner)
    return np.array([cosine[owners == i].mean() for i in range(len(audio))], dtype=np.float64)


def rank(scores: np.ndarray) -> list[int]:
    """Candidate indices, best first; ties keep generation order (stable, like the pipeline's argsort)."""
    return [int(i) for i in np.argsort(-scores, kind="stable")]
