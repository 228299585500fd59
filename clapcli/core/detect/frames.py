"""Frame-level detection with a model that scores frames itself (``PeAudioFrameLevelModel``): no sliding
windows; each file goes through the model in pieces of at most the model's longest clip (its
``max_samples``, cut at frame boundaries) and every frame gets ``sigmoid(<frame, label> * scale + bias)``,
exactly the frame model's ``logits_audio_text``; with a probe (``clap detect --probe``) every frame's
embedding (``PeAudioFrameLevelModel.get_audio_embeds``) gets the probe's probabilities instead. Frame
``i`` spans ``i * hop`` .. ``(i + 1) * hop`` samples (1920 samples = 40 ms at 48 kHz); the last one may
reach past the file's end into the reflect padding the feature extractor adds, and events are clipped to the file
(``clapcli.audio.windows.frame_bounds``).

Files are decoded block by block in the model's thread, one after another (no decode pool: the frame
model is a single pass per piece, and a piece never shares a batch with another, see the backend).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.errors import InputError, UsageError
from clapcli.results import FailedInput, FrameScores


def check_frame_options(model: Any, window: float | None, hop: float | None, mode: str | None,
                        background: str | None) -> None:
    """Sliding-window options mean nothing to a frame model: refused in one line each."""
    named = {"--window": window, "--hop": hop, "--background": background}
    given = [flag for flag, value in named.items() if value is not None]
    if mode not in (None, "sigmoid"):
        given.append(f"--mode {mode}")
    if given:
        frame_ms = 1000 * model.hop / model.sample_rate
        raise UsageError(f"{', '.join(given)}: '{model.model_id}' scores its own {frame_ms:g} ms frames (sigmoid "
                         "per label); drop the option, or use a CLAP model for sliding windows")


def score_frames(model: Any, files: Iterable[Path | FailedInput], labels: list[str], embeddings: np.ndarray,
                 on_progress: Callable[[float], None] | None = None,
                 probe: Any = None) -> Iterator[FrameScores | FailedInput]:
    """One ``FrameScores`` per readable file (frame times from the model's hop), else a ``FailedInput``.
    ``probe``: its probabilities of each frame's embedding instead of the labels' sigmoids."""
    if probe is not None:
        def score(piece: np.ndarray) -> np.ndarray:
            return probe.probabilities(model.frame_embeddings(piece).astype(np.float64))
    else:
        def score(piece: np.ndarray) -> np.ndarray:
            return 1.0 / (1.0 + np.exp(-model.frame_logits(piece, embeddings).astype(np.float64)))
    for path in files:
        if isinstance(path, FailedInput):
            yield path
        else:
            yield _one_file(model, path, labels, score)
        if on_progress is not None:
            on_progress(1.0)


def _one_file(model: Any, path: Path, labels: list[str],
              score: Callable[[np.ndarray], np.ndarray]) -> FrameScores | FailedInput:
    from clapcli.audio.decode import open_audio
    from clapcli.core.pipeline import strip_name

    name = str(path)
    try:
        stream = open_audio(path, model.sample_rate)
        if stream.length == 0:
            return FailedInput(name, "holds no audio samples")
        rows = [score(piece) for piece in _pieces(stream.blocks(), model.max_samples)]
    except InputError as exc:
        return FailedInput(name, strip_name(str(exc), name))
    except (ValueError, MemoryError, RuntimeError) as exc:
        return FailedInput(name, f"could not be scored ({type(exc).__name__}: {exc})")
    scores = np.concatenate(rows)
    hop = model.hop / model.sample_rate
    starts = np.arange(len(scores)) * hop
    return FrameScores(name, labels, starts, starts + hop, scores.astype(np.float32), stream.duration)


def _pieces(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Consecutive pieces of ``size`` samples (a multiple of the hop; the last one shorter)."""
    buffer: list[np.ndarray] = []
    held = 0
    for block in blocks:
        buffer.append(block)
        held += len(block)
        while held >= size:
            joined = np.concatenate(buffer)
            yield joined[:size]
            buffer, held = [joined[size:]], held - size
    if held:
        yield np.concatenate(buffer)
