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
  ``pe_windows.MAX_SECONDS`` is cut into windows of that length by the ``--long-audio`` rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clapcli.errors import ModelLoadError
from clapcli.models.base import EmbeddingModel
from clapcli.models.pe_windows import PeItem, PeWindows, batches_by_length
from clapcli.models.windowed import inference_mode


class PeAudioBackend(PeWindows, EmbeddingModel):
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
        self.set_geometry(feature_extractor.sampling_rate, feature_extractor.hop_length, long_audio, model_id)
        self.embedding_dim = int(network.config.text_config.hidden_size)

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
        a forward pass (``batches_by_length``): the front end ignores ``padding_mask``."""
        import torch

        results: list[list[Any]] = [[None] * len(item.windows) for item in items]
        for batch, places in batches_by_length(items):
            values = torch.from_numpy(batch).to(self.device, self.dtype)
            mask = torch.ones(len(places), batch.shape[-1], dtype=torch.long, device=self.device)
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
