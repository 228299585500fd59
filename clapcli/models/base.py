"""The interface every contrastive (media <-> text) backend implements.

Commands and core code only talk to this interface, so LAION CLAP, MS-CLAP and AltCLIP/CLIP
are interchangeable. Tensors returned are float32 on the CPU.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

LONG_AUDIO_STRATEGIES = ("mean", "head", "center", "fusion")


class EmbeddingModel(ABC):
    """A loaded contrastive model. Subclasses set the attributes in ``load``."""

    family: ClassVar[str]
    modality: ClassVar[str]  # "audio" or "image": what ``prepare`` accepts
    default_template: ClassVar[str] = "{}"
    # How logits are made: "cosine" (normalized embeddings, CLIP/CLAP) or "dot" (raw embeddings, PE-Audio),
    # and the scoring the model was trained with ("softmax" over labels, or "sigmoid" per label).
    similarity: ClassVar[str] = "cosine"
    default_scoring: ClassVar[str] = "softmax"
    frame_level: bool = False  # per-frame logits (PeAudioFrameLevelModel): clap detect scores frames directly

    model_id: str
    sample_rate: int | None = None  # audio models: the rate ``prepare`` expects
    window_seconds: float | None = None  # audio models: one model window
    embedding_dim: int
    long_audio: str = "mean"

    @classmethod
    @abstractmethod
    def load(cls, ref: Any, config: dict[str, Any], device: Any, dtype: Any,
             long_audio: str | None = None) -> EmbeddingModel:
        """Build from a ``clapcli.models.hub.ModelRef`` and its parsed config."""

    @abstractmethod
    def encode_text(self, texts: Sequence[str]) -> Any:
        """(len(texts), dim) projected text embeddings, not normalized. Pads per call, not to max length."""

    @abstractmethod
    def prepare(self, media: Any) -> Any:
        """CPU-side, thread-safe work for one input (audio: mono float32 at ``sample_rate``;
        image: a PIL image). Returns an opaque item for ``encode_prepared``.

        It runs in the pipeline's decode threads, so it must use numpy, not torch: a torch op big
        enough to go parallel starts an OpenMP team in that thread, and while those teams live the
        model's forward passes ran 20-25% slower on 2 cores (libgomp then manages more threads
        than cores; benchmarks/README.md)."""

    @abstractmethod
    def encode_prepared(self, items: Sequence[Any]) -> Any:
        """(len(items), dim) projected embeddings, not normalized, for prepared items."""

    @property
    @abstractmethod
    def logit_scale(self) -> float:
        """Multiplier applied to cosine similarities to get classification logits."""

    @property
    def logit_bias(self) -> float:
        """Added to the scaled similarities (sigmoid-trained models learn one; CLAP has none)."""
        return 0.0

    def items_cost(self, item: Any) -> int:
        """How many model windows an item costs (batching counts windows, not files)."""
        return 1
