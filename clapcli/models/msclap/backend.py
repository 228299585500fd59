"""MS-CLAP behind the ``EmbeddingModel`` interface (family "msclap")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from clapcli.audio.decode import AudioStream
from clapcli.audio.features import MelSpec, StreamedWindows, log_mel_numpy, window_starts
from clapcli.errors import ModelLoadError, UsageError
from clapcli.models.base import EmbeddingModel
from clapcli.models.hub import ModelRef, check_tokenizer, wrap_load_error


@dataclass(frozen=True)
class MSClapItem:
    """Log-mel features of each model window of one clip: (windows, 1, frames, mels) float32."""

    features: np.ndarray

    @property
    def cost(self) -> int:
        return len(self.features)


class MSClapBackend(EmbeddingModel):
    family = "msclap"
    modality = "audio"
    default_template = "This is a sound of {}."

    def __init__(self, network: Any, processor: Any, model_id: str, device: torch.device, dtype: torch.dtype,
                 long_audio: str) -> None:
        if long_audio == "fusion":
            raise UsageError(f"--long-audio fusion needs a fused LAION checkpoint; '{model_id}' is MS-CLAP (use mean)")
        self.network = network
        self.processor = processor
        self.extractor = processor.feature_extractor
        self.model_id = model_id
        self.device = device
        self.dtype = dtype
        self.long_audio = long_audio
        self.sample_rate = int(self.extractor.sampling_rate)
        self.window_samples = int(self.extractor.nb_max_samples)
        self.window_seconds = self.window_samples / self.sample_rate
        self.embedding_dim = int(network.config.projection_dim)
        fe = self.extractor
        # The extractor's numbers (within 2e-14 dB) through clapcli's CPU log-mel: 1.9x faster and no
        # BLAS matmul, whose threads would compete with the model's in the decode threads.
        self.mel_spec = MelSpec(
            sample_rate=self.sample_rate, n_fft=int(fe.fft_window_size), hop_length=int(fe.hop_length),
            n_mels=int(fe.feature_size), f_min=float(fe.frequency_min), f_max=float(fe.frequency_max),
            scale="slaney", filterbank_rate=int(fe.mel_sampling_rate),
        )

    @classmethod
    def load(cls, ref: ModelRef, config: dict, device: torch.device, dtype: torch.dtype,
             long_audio: str | None = None) -> MSClapBackend:
        from clapcli.models.msclap import MSClapModel, MSClapProcessor

        try:
            processor = MSClapProcessor.from_pretrained(ref.location)
            network = MSClapModel.from_pretrained(ref.location, dtype=dtype)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise wrap_load_error(ref, exc) from None
        check_tokenizer(processor.tokenizer, ref)
        if len(processor.tokenizer) > network.config.text_config.vocab_size:
            raise ModelLoadError(f"model '{ref.location}': its tokenizer does not match the text tower's vocabulary")
        network.to(device).eval()
        return cls(network, processor, ref.model_id, device, dtype, long_audio or "mean")

    @property
    def logit_scale(self) -> float:
        return float(self.network.logit_scale.detach().float().exp())

    @torch.inference_mode()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.processor(text=list(texts), return_tensors="pt").to(self.device)
        embeds, _ = self.network._text_embeds(tokens["input_ids"], tokens["attention_mask"])
        return embeds.float().cpu()

    def prepare(self, media: np.ndarray | AudioStream) -> MSClapItem | StreamedWindows:
        """An item for ``encode_prepared``; for a long ``AudioStream``, its windows cut lazily chunk by
        chunk when encoded (``StreamedWindows``), so the clip is never held whole."""
        size = self.window_samples
        if isinstance(media, AudioStream):
            if media.length > size:
                starts = window_starts(media.length, size, self.long_audio)
                return StreamedWindows(media.blocks, tuple(starts), size, self._windows_item)
            media = media.read()
        samples = np.asarray(media, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise ValueError("empty audio")
        starts = window_starts(len(samples), size, self.long_audio)
        return self._windows_item(np.stack([self.extractor.fit_window(samples[start : start + size])
                                            for start in starts]))

    def _windows_item(self, windows: np.ndarray) -> MSClapItem:
        """Window-sized clips -> their log-mels (float32 and float64 samples give the same numbers:
        the frames are windowed in float64)."""
        return MSClapItem(log_mel_numpy(windows, self.mel_spec)[:, None].astype(np.float32))

    def items_cost(self, item: MSClapItem | StreamedWindows) -> int:
        return item.cost

    @torch.inference_mode()
    def encode_prepared(self, items: Sequence[MSClapItem]) -> torch.Tensor:
        owners = [i for i, item in enumerate(items) for _ in range(len(item.features))]
        features = torch.from_numpy(np.concatenate([item.features for item in items])).to(self.device, self.dtype)
        embeds, _ = self.network._audio_embeds(features, None)
        return _mean_per_owner(embeds.float().cpu(), owners, len(items))


def _mean_per_owner(embeddings: torch.Tensor, owners: list[int], count: int) -> torch.Tensor:
    index = torch.tensor(owners)
    sums = torch.zeros(count, embeddings.shape[1]).index_add_(0, index, embeddings)
    counts = torch.zeros(count).index_add_(0, index, torch.ones(len(owners)))
    return sums / counts[:, None]
