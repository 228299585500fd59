"""LAION CLAP through transformers' ``ClapModel`` (HTSAT audio tower, RoBERTa text tower), on the shared
windowed-audio base; fusion checkpoints add the whole-clip mel stack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from clapcli.audio.decode import AudioStream
from clapcli.audio.features import MelSpec, fusion_mel, log_mel, log_mel_numpy, log_mel_of_blocks
from clapcli.audio.windows import StreamedWindows, window_starts
from clapcli.errors import InvalidField
from clapcli.models.hub import ModelRef, load_pretrained
from clapcli.models.windowed import WindowedAudioBackend, exp_scale, project_texts


@dataclass(frozen=True)
class AudioItem:
    """One prepared clip: model windows of raw samples, or (fusion) the whole clip."""

    windows: np.ndarray  # (n_windows, window_samples) float32
    whole: np.ndarray | None = None  # the full clip, for fusion of long audio
    cost: int = 1  # model windows it takes (batching counts windows)
    fusion: bool = False  # a long clip's fused stack (the model's ``is_longer`` flag)
    # On CPU the log-mels are computed in the decode threads (numpy, float32), overlapping the
    # model, and the samples above are dropped: (n_windows, frames, mels) and the whole clip's.
    window_mels: np.ndarray | None = None
    whole_mel: np.ndarray | None = None

    @property
    def has_mels(self) -> bool:
        return self.window_mels is not None


_NO_SAMPLES = np.empty((0, 0), dtype=np.float32)


class LaionClapBackend(WindowedAudioBackend):
    family = "laion-clap"

    def __init__(self, network: Any, tokenizer: Any, feature_extractor: Any, model_id: str,
                 device: torch.device, dtype: torch.dtype, long_audio: str) -> None:
        self.network = network
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = device
        self.dtype = dtype
        fe = feature_extractor
        self.set_windows(int(fe.sampling_rate), int(fe.nb_max_samples), mel_spec_for(fe))
        self.fused = bool(network.config.audio_config.enable_fusion)
        # The extractor stacks four mels (HTK filterbank) whenever it truncates by fusion.
        self.stack_four = fe.truncation == "fusion"
        self.embedding_dim = int(network.config.projection_dim)
        if long_audio == "fusion" and not self.fused:
            raise InvalidField("long_audio", "{long_audio} fusion needs a fused checkpoint; '{model}' is unfused "
                               "(use mean)", model=model_id)
        self.long_audio = long_audio

    @classmethod
    def load(cls, ref: ModelRef, config: dict, device: torch.device, dtype: torch.dtype,
             long_audio: str | None = None) -> LaionClapBackend:
        from transformers import ClapFeatureExtractor, ClapModel

        tokenizer, feature_extractor, network = load_pretrained(ref, ClapFeatureExtractor, ClapModel, device, dtype)
        return cls.from_parts(network, tokenizer, feature_extractor, ref.model_id, device, dtype, long_audio)

    @classmethod
    def from_parts(cls, network: Any, tokenizer: Any, feature_extractor: Any, model_id: str, device: torch.device,
                   dtype: torch.dtype, long_audio: str | None = None) -> LaionClapBackend:
        """From loaded components (a ``ClapModel`` inside another pipeline, e.g. AudioLDM 2's scorer)."""
        fused = bool(network.config.audio_config.enable_fusion)
        return cls(network, tokenizer, feature_extractor, model_id, device, dtype,
                   long_audio or ("fusion" if fused else "mean"))

    @property
    def logit_scale(self) -> float:
        return exp_scale(self.network.logit_scale_a)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        return project_texts(self.network, self.tokenizer, texts, self.device)

    # ---------------------------------------------------------------- prepare (numpy only)

    def prepare_samples(self, samples: np.ndarray) -> AudioItem:
        return self._with_mels(self.cut(samples))

    def cut(self, samples: np.ndarray) -> AudioItem:
        """The item before features: windows of samples, or (fusion) the whole long clip. Accelerators
        take it as it is (features batched on the device); on CPU ``prepare`` adds the mels."""
        size = self.window_samples
        if self.long_audio == "fusion" and len(samples) > size:
            return AudioItem(np.empty((0, size), np.float32), whole=samples, fusion=True)
        starts = window_starts(len(samples), size, self.long_audio)
        return AudioItem(np.stack([self.fit_window(samples[s : s + size]) for s in starts]), cost=len(starts))

    def prepare_long_stream(self, stream: AudioStream) -> AudioItem | StreamedWindows:
        if self.long_audio != "fusion":
            return super().prepare_long_stream(stream)
        # Fusion needs the whole clip's mel (not its samples), on any device: computed block by block.
        frames = self.window_samples // self.mel_spec.hop_length + 1
        return AudioItem(_NO_SAMPLES, fusion=True,
                         window_mels=np.empty((0, frames, self.mel_spec.n_mels), dtype=np.float32),
                         whole_mel=log_mel_of_blocks(stream.blocks(), stream.length, self.mel_spec))

    def windows_item(self, windows: np.ndarray) -> AudioItem:
        return self._with_mels(AudioItem(windows, cost=len(windows)))

    def _with_mels(self, item: AudioItem) -> AudioItem:
        if self.device.type != "cpu":
            return item  # features are computed batched on the accelerator in encode_prepared
        # numpy only (see EmbeddingModel.prepare); float32 as the model takes them
        window_mels = log_mel_numpy(item.windows, self.mel_spec).astype(np.float32)
        whole_mel = None if item.whole is None else log_mel_numpy(item.whole, self.mel_spec)[0].astype(np.float32)
        return replace(item, windows=_NO_SAMPLES, whole=None, window_mels=window_mels, whole_mel=whole_mel)

    # ---------------------------------------------------------------- encode

    def encode_windows(self, items: Sequence[AudioItem]) -> tuple[torch.Tensor, list[int]]:
        features, owners = self._features(items)
        outputs = self.network.audio_model(input_features=features.to(self.device, self.dtype),
                                           is_longer=self._longer_flags(items, owners))
        return self.network.audio_projection(outputs.pooler_output), owners

    def _features(self, items: Sequence[AudioItem]) -> tuple[torch.Tensor, list[int]]:
        """(windows, channels, frames, mels) for every window of every item (plain windows first,
        then fusion stacks), and the item each row belongs to."""
        window_mels, whole_mels = self._mels(items)
        mels: list[torch.Tensor] = []
        owners: list[int] = []
        for owner, item_mels in enumerate(window_mels):
            for mel in item_mels:
                mels.append(mel.expand(4, -1, -1) if self.stack_four else mel[None])
                owners.append(owner)
        chunk_frames = self.window_samples // self.mel_spec.hop_length + 1
        for owner, mel in enumerate(whole_mels):
            if mel is not None:
                mels.append(fusion_mel(mel, chunk_frames))
                owners.append(owner)
        return torch.stack(mels), owners

    def _mels(self, items: Sequence[AudioItem]) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """Each item's window log-mels and whole-clip log-mel (fusion): as ``prepare`` computed them
        on CPU, or one batched call on the model's device for raw items."""
        raw = [item for item in items if not item.has_mels]
        windows = [w for item in raw for w in item.windows]
        computed = log_mel(np.stack(windows), self.mel_spec, self.device) if windows else None
        counts = iter(len(item.windows) for item in raw)
        window_mels: list[torch.Tensor] = []
        whole: list[torch.Tensor | None] = []
        used = 0
        for item in items:
            if item.has_mels:
                window_mels.append(self._on_device(item.window_mels, computed))
                whole.append(None if item.whole_mel is None else self._on_device(item.whole_mel, computed))
                continue
            count = next(counts)
            window_mels.append(computed[used : used + count] if computed is not None else torch.empty(0))
            used += count
            whole.append(None if item.whole is None else log_mel(item.whole[None], self.mel_spec, self.device)[0])
        return window_mels, whole

    def _on_device(self, mel: np.ndarray, computed: torch.Tensor | None) -> torch.Tensor:
        """A mel computed in ``prepare``; beside mels computed on the device, in their place and dtype."""
        tensor = torch.from_numpy(mel)
        return tensor if computed is None else tensor.to(computed.device, computed.dtype)

    def _longer_flags(self, items: Sequence[AudioItem], owners: list[int]) -> torch.Tensor:
        flags = [items[o].fusion for o in owners]
        return torch.tensor(flags, device=self.device)[:, None]


def mel_spec_for(fe: Any) -> MelSpec:
    """The log-mel settings of a ``ClapFeatureExtractor`` (HTK filterbank when it truncates by fusion)."""
    return MelSpec(
        sample_rate=int(fe.sampling_rate), n_fft=int(fe.fft_window_size), hop_length=int(fe.hop_length),
        n_mels=int(fe.feature_size), f_min=float(fe.frequency_min), f_max=float(fe.frequency_max),
        scale="htk" if fe.truncation == "fusion" else "slaney",
    )
