"""Meta's Perception Encoder Audio through transformers: ``PeAudioModel`` (clip-level audio-text),
``PeAudioFrameLevelModel`` (one embedding per 40 ms frame) and the audio and text towers of
``PeAudioVideoModel`` (the ``pe-av-*`` checkpoints).

What differs from CLAP (docs/pe-audio.md):

- raw 48 kHz samples go in (no log-mel, no fixed window); the clip is reflect-padded to a multiple
  of the frame hop (1920 samples), as ``PeAudioFeatureExtractor`` does;
- logits are ``<audio, text> * scale + bias`` on the *raw* projected embeddings, the scale used as it
  is (not exponentiated), trained with a sigmoid loss: each label is its own probability;
- the convolutional front end ignores ``padding_mask``, so a clip padded inside a batch gives other
  numbers than alone: only clips of equal length share a forward pass;
- attention covers the whole clip (cost grows with the square of its length), so a clip longer than
  ``MAX_SECONDS`` is cut into windows of that length by the ``--long-audio`` rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clapcli.audio.decode import AudioStream
from clapcli.audio.windows import StreamedWindows, window_starts
from clapcli.errors import InvalidField, ModelLoadError
from clapcli.models.base import EmbeddingModel
from clapcli.models.windowed import inference_mode

# Longest clip embedded in one forward pass (seconds); longer clips are cut into windows of this length by
# the --long-audio rule. Measured on the default (large-style, 282M-parameter) audio encoder, one thread,
# loaded machine (docs/pe-audio.md): the convolutional front end costs 0.83 s per audio second whatever
# the length; the transformer 0.13 s per audio second at 10 s, 0.19 at 30 s, 0.17 at 120 s, 0.26 at 300 s
# (attention's square term shows from a few minutes on) and its peak memory grows (1.8 GB -> 2.5 GB).
# 30 s keeps each pass near the lengths such models are trained on and the memory flat.
MAX_SECONDS = 30.0


@dataclass(frozen=True)
class PeItem:
    """One prepared input: its windows of samples (each a multiple of the hop), and what it costs."""

    windows: tuple[np.ndarray, ...]
    cost: int = 1


class PeAudioBackend(EmbeddingModel):
    family = "pe-audio"
    modality = "audio"
    default_template = "{}"
    similarity = "dot"  # logits from raw (unnormalized) embeddings
    default_scoring = "sigmoid"

    def __init__(self, network: Any, tokenizer: Any, feature_extractor: Any, model_id: str, device: Any,
                 dtype: Any, long_audio: str, frame_level: bool) -> None:
        self.network = network
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = device
        self.dtype = dtype
        self.frame_level = frame_level
        self.sample_rate = int(feature_extractor.sampling_rate)  # 48000 (dac_config says 16000: not the input rate)
        self.hop = int(feature_extractor.hop_length)
        self.max_samples = int(MAX_SECONDS * self.sample_rate) // self.hop * self.hop
        self.window_seconds = self.max_samples / self.sample_rate
        self.embedding_dim = int(network.config.text_config.hidden_size)
        if long_audio == "fusion":
            raise InvalidField("long_audio", "{long_audio} fusion is LAION CLAP's; '{model}' takes mean, head or "
                               "center", model=model_id)
        self.long_audio = long_audio

    @classmethod
    def load(cls, ref: Any, config: dict, device: Any, dtype: Any, long_audio: str | None = None) -> PeAudioBackend:
        network, tokenizer, extractor = _load_parts(ref, config, device, dtype)
        frame_level = "PeAudioFrameLevelModel" in (config.get("architectures") or ())
        return cls(network, tokenizer, extractor, ref.model_id, device, dtype, long_audio or "mean", frame_level)

    @property
    def logit_scale(self) -> float:
        return float(self.network.text_audio_logit_scale.detach().float())

    @property
    def logit_bias(self) -> float:
        return float(self.network.text_audio_logit_bias.detach().float())

    # ---------------------------------------------------------------- text

    @inference_mode
    def encode_text(self, texts: Sequence[str]) -> Any:
        """``text_audio_head`` over the first token of the last hidden layer, as ``PeAudioModel.forward``
        computes ``text_audio_embeds`` (``get_text_audio_embeds`` raises a TypeError in transformers 5.25)."""
        tokens = self.tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt").to(self.device)
        outputs = self.network.text_model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"],
                                          output_hidden_states=True)
        return self.network.text_audio_head(outputs.hidden_states[-1][:, 0]).float().cpu()

    # ---------------------------------------------------------------- prepare (decode threads: numpy only)

    def prepare(self, media: np.ndarray | AudioStream) -> PeItem | StreamedWindows:
        """One item; a long ``AudioStream``'s windows are cut lazily, chunk by chunk, when encoded
        (``StreamedWindows``: the pipeline sums chunk means), so a long file is never held whole."""
        size = self.max_samples
        if isinstance(media, AudioStream) and media.length > size:
            starts = window_starts(media.length, size, self.long_audio)
            return StreamedWindows(media.blocks, tuple(starts), size, self._item)
        samples = np.asarray(media.read() if isinstance(media, AudioStream) else media, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise ValueError("empty audio")
        starts = window_starts(len(samples), size, self.long_audio)
        return self._item([samples[start : start + size] for start in starts])

    def _item(self, windows: Sequence[np.ndarray]) -> PeItem:
        """Windows of at most ``max_samples`` (each reflect-padded to the hop) as one item; each window
        costs one in batching (``--batch-size`` counts windows of up to ``MAX_SECONDS``)."""
        padded = tuple(self.pad(np.asarray(window, dtype=np.float32)) for window in windows)
        return PeItem(padded, len(padded))

    def pad(self, samples: np.ndarray) -> np.ndarray:
        """Reflect-pad to a multiple of the hop, exactly as ``PeAudioFeatureExtractor`` does."""
        short = -len(samples) % self.hop
        return np.pad(samples, (0, short), "reflect") if short else samples

    def items_cost(self, item: PeItem | StreamedWindows) -> int:
        return item.cost

    # ---------------------------------------------------------------- encode (model thread)

    @inference_mode
    def encode_prepared(self, items: Sequence[PeItem]) -> Any:
        import torch

        pooled = self._per_window(items, lambda out: self.network.audio_head(out.pooler_output))
        rows = []
        for item_rows in pooled:  # the mean of an item's window embeddings (the ``mean`` long-audio rule)
            rows.append(torch.stack(item_rows).mean(dim=0))
        return torch.stack(rows).float().cpu()

    def _per_window(self, items: Sequence[PeItem], head: Any) -> list[list[Any]]:
        """``head(encoder output)`` of every window, grouped per item. Only windows of equal length share
        a forward pass: the front end ignores ``padding_mask``, so padding would change the numbers."""
        import torch

        by_length: dict[int, list[tuple[int, int]]] = {}
        for owner, item in enumerate(items):
            for index, window in enumerate(item.windows):
                by_length.setdefault(len(window), []).append((owner, index))
        results: list[list[Any]] = [[None] * len(item.windows) for item in items]
        for length, places in by_length.items():
            batch = np.stack([items[owner].windows[index] for owner, index in places])
            values = torch.from_numpy(batch)[:, None, :].to(self.device, self.dtype)
            mask = torch.ones(len(places), length, dtype=torch.long, device=self.device)
            out = self.network.audio_encoder(input_values=values, padding_mask=mask)
            for row, (owner, index) in zip(head(out), places):
                results[owner][index] = row
        return results

    @inference_mode
    def frame_logits(self, samples: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """(n_frames, n_texts) logits of one clip of at most ``max_samples``, as
        ``PeAudioFrameLevelModel.forward`` computes them (frame ``i`` covers samples ``i*hop`` .. ``(i+1)*hop``)."""
        import torch

        frames = self._frames(samples)
        texts = torch.from_numpy(text_embeddings).to(frames.device, frames.dtype)
        logits = (frames @ texts.T) * self.network.text_audio_logit_scale + self.network.text_audio_logit_bias
        return logits.float().cpu().numpy()

    @inference_mode
    def frame_embeddings(self, samples: np.ndarray) -> np.ndarray:
        """(n_frames, dim) embeddings of one clip of at most ``max_samples``, as
        ``PeAudioFrameLevelModel.get_audio_embeds`` computes them (what ``frame_logits`` scores against text)."""
        return self._frames(samples).float().cpu().numpy()

    def _frames(self, samples: np.ndarray) -> Any:
        item = self._item([samples])
        return self._per_window([item], lambda out: self.network.audio_head(out.last_hidden_state))[0][0]


def _load_parts(ref: Any, config: dict, device: Any, dtype: Any) -> tuple[Any, Any, Any]:
    """(the audio-text network in eval mode, tokenizer, feature extractor). Of a ``pe_audio_video``
    checkpoint only the audio-text part is built and read (no video tower, no timm)."""
    import transformers
    from transformers import AutoTokenizer, PeAudioFeatureExtractor

    from clapcli.models.hub import check_tokenizer, wrap_load_error

    if str(config.get("model_type")) == "pe_audio_video":
        model_class = None  # its audio-text part alone (pe_audio_video.py)
    elif "PeAudioFrameLevelModel" in (config.get("architectures") or ()):
        model_class = transformers.PeAudioFrameLevelModel  # AutoModel would build the clip-level class
    else:
        model_class = transformers.PeAudioModel
    try:
        tokenizer = AutoTokenizer.from_pretrained(ref.location)
        extractor = PeAudioFeatureExtractor.from_pretrained(ref.location)
        if model_class is None:
            from clapcli.models.pe_audio_video import load_audio_text

            network = load_audio_text(ref, dtype)
        else:
            network = model_class.from_pretrained(ref.location, dtype=dtype)
    except ImportError as exc:  # a tokenizer needing a package this environment lacks
        raise ModelLoadError(f"model '{ref.location}': its tokenizer needs a package that is not installed "
                             f"({_first_line(exc)}); install it and retry") from None
    except (OSError, ValueError, KeyError) as exc:
        raise wrap_load_error(ref, exc) from None
    check_tokenizer(tokenizer, ref)
    return network.to(device).eval(), tokenizer, extractor


def _first_line(exc: BaseException) -> str:
    from clapcli.text import first_line

    return first_line(exc, 160)
