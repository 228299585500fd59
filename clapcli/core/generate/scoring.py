"""Candidate ranking by CLAP text-audio similarity, as the pipeline's ``score_waveforms`` does.

Differences on purpose: candidates are ranked per prompt (the pipeline's argsort runs across all
prompts of a batch), the ranking is never skipped (the pipeline silently returns unranked audio
without librosa), and audio longer than CLAP's 10 s window is scored with ``clap embed``'s rule
(the mean over evenly spaced full windows, ``--long-audio mean``) instead of one random crop, so the
same seed always picks the same file.
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


@torch.no_grad()
def clap_scores(pipe: Any, prompt: str, audio: np.ndarray, rate: int, device: Any, dtype: Any) -> np.ndarray:
    """Cosine similarity (CLAP space) of each candidate in ``audio`` (n, samples) to ``prompt``, through
    clapcli's LAION backend on the pipeline's own CLAP (the windows and mean ``clap embed`` uses)."""
    from clapcli.models.laion import LaionClapBackend

    scorer = LaionClapBackend.from_parts(pipe.text_encoder, pipe.tokenizer, pipe.feature_extractor,
                                         "audioldm2-scorer", torch.device(device), dtype, long_audio="mean")
    resampled = _resample_like_pipeline(audio, rate, scorer.sample_rate)
    items = [scorer.prepare(np.asarray(clip, dtype=np.float32)) for clip in resampled]
    audio_embeddings = torch.nn.functional.normalize(scorer.encode_prepared(items), dim=-1)
    text_embedding = torch.nn.functional.normalize(scorer.encode_text([prompt]), dim=-1)[0]
    return (audio_embeddings @ text_embedding).double().numpy()


def rank(scores: np.ndarray) -> list[int]:
    """Candidate indices, best first; ties keep generation order (stable, like the pipeline's argsort)."""
    return [int(i) for i in np.argsort(-scores, kind="stable")]


@torch.no_grad()
def embedding_scores(model: Any, prompt: str, clips: np.ndarray, rate: int) -> np.ndarray:
    """Cosine similarity (CLAP space) of each clip in ``clips`` (n, samples[, channels]) to ``prompt``, through an
    embedding model (``clap embed``'s windows and long-audio rule): each clip is downmixed to mono by the
    channel mean and resampled (soxr) to the model's rate first, as ``clap embed`` reads a stereo file."""
    from clapcli.audio.decode import resample, to_mono

    items = [model.prepare(resample(to_mono(np.asarray(clip, dtype=np.float32)), rate, model.sample_rate))
             for clip in clips]
    audio_embeddings = torch.nn.functional.normalize(torch.as_tensor(model.encode_prepared(items)).float(), dim=-1)
    text_embedding = torch.nn.functional.normalize(torch.as_tensor(model.encode_text([prompt])).float(), dim=-1)[0]
    return (audio_embeddings @ text_embedding).double().numpy()
