"""What the audio encoders share (LAION CLAP, MS-CLAP): fixed model windows over a clip, log-mels,
windows -> forward -> one mean embedding per input, and the text/scale helpers of CLIP-style towers.

A clip no longer than one window is repeat-padded to it (as the references do); a longer one is cut
into windows by the ``--long-audio`` rule (``window_starts``) and its window embeddings averaged. A
long ``AudioStream`` is cut lazily, chunk by chunk (``StreamedWindows``), so it is never held whole.
Subclasses say how a stack of windows becomes their model's input (``windows_item``) and how a batch
of those runs through the audio tower (``encode_windows``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from clapcli.audio.decode import AudioStream
from clapcli.audio.features import MelSpec
from clapcli.audio.windows import StreamedWindows, window_starts
from clapcli.models.base import EmbeddingModel

if TYPE_CHECKING:  # torch is imported when a model runs: the exported runtimes (models/runtime) run without it
    import torch


def inference_mode(function: Callable) -> Callable:
    """``torch.inference_mode()`` as a decorator that imports torch only when called."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.inference_mode():
            return function(*args, **kwargs)

    return run


class WindowedAudioBackend(EmbeddingModel):
    """Base of the audio backends. Subclasses call ``set_windows`` in ``__init__``."""

    modality = "audio"
    default_template = "This is a sound of {}."

    network: Any
    device: torch.device
    dtype: torch.dtype
    window_samples: int
    mel_spec: MelSpec

    def set_windows(self, sample_rate: int, window_samples: int, mel_spec: MelSpec) -> None:
        self.sample_rate = int(sample_rate)
        self.window_samples = int(window_samples)
        self.window_seconds = self.window_samples / self.sample_rate
        self.mel_spec = mel_spec

    # ---------------------------------------------------------------- prepare (decode threads: numpy only)

    def prepare(self, media: np.ndarray | AudioStream) -> Any:
        """An item for ``encode_prepared``; for a long ``AudioStream``, its windows cut lazily chunk by
        chunk when encoded (``StreamedWindows``), so the clip is never held whole."""
        if isinstance(media, AudioStream):
            if media.length > self.window_samples:
                return self.prepare_long_stream(media)
            media = media.read()
        samples = np.asarray(media, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise ValueError("empty audio")
        return self.prepare_samples(samples)

    def prepare_samples(self, samples: np.ndarray) -> Any:
        """A clip in memory: its windows (repeat-padded when shorter than one) as one item."""
        size = self.window_samples
        starts = window_starts(len(samples), size, self.long_audio)
        return self.windows_item(np.stack([self.fit_window(samples[start : start + size]) for start in starts]))

    def prepare_long_stream(self, stream: AudioStream) -> Any:
        starts = window_starts(stream.length, self.window_samples, self.long_audio)
        return StreamedWindows(stream.blocks, tuple(starts), self.window_samples, self.windows_item)

    def fit_window(self, piece: np.ndarray) -> np.ndarray:
        """A piece of at most one window -> exactly one window (repeat-padded, as the references do)."""
        from clapcli.audio.windows import repeat_pad

        return repeat_pad(piece, self.window_samples)

    def windows_item(self, windows: np.ndarray) -> Any:
        """(n, window_samples) float32 -> the item ``encode_prepared`` takes (with its ``cost``)."""
        raise NotImplementedError

    def items_cost(self, item: Any) -> int:
        return item.cost

    # ---------------------------------------------------------------- encode (model thread)

    @inference_mode
    def encode_prepared(self, items: Sequence[Any]) -> torch.Tensor:
        window_embeddings, owners = self.encode_windows(items)
        return mean_per_owner(window_embeddings.float().cpu(), owners, len(items))

    def encode_windows(self, items: Sequence[Any]) -> tuple[torch.Tensor, list[int]]:
        """(projected embedding of every window of every item, the item each row belongs to)."""
        raise NotImplementedError


def mean_per_owner(embeddings: torch.Tensor, owners: list[int], count: int) -> torch.Tensor:
    """Average window embeddings back to one row per item (the ``mean`` long-audio strategy)."""
    import torch

    index = torch.tensor(owners)
    sums = torch.zeros(count, embeddings.shape[1]).index_add_(0, index, embeddings)
    counts = torch.zeros(count).index_add_(0, index, torch.ones(len(owners)))
    return sums / counts[:, None]


@inference_mode
def project_texts(network: Any, tokenizer: Any, texts: Sequence[str], device: torch.device,
                  max_length: int | None = None) -> torch.Tensor:
    """CLIP-style text tower: tokens (padded per call) -> ``text_model`` pooler -> ``text_projection``."""
    options: dict[str, Any] = {"padding": True, "truncation": True, "return_tensors": "pt"}
    if max_length is not None:
        options["max_length"] = max_length
    tokens = tokenizer(list(texts), **options).to(device)
    outputs = network.text_model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
    return network.text_projection(outputs.pooler_output).float().cpu()


def exp_scale(parameter: torch.Tensor) -> float:
    """A learned log-scale parameter -> the multiplier of cosine similarities."""
    return float(parameter.detach().float().exp())
