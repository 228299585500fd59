"""Image-text models with CLIP's interface: ``AltCLIPModel`` (XLM-R text tower, multilingual) and ``CLIPModel``.

Both expose ``text_model`` / ``vision_model`` towers with ``text_projection`` / ``visual_projection``,
so one backend serves them; the classes are picked from the config's ``model_type``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from clapcli.errors import InvalidField
from clapcli.models.base import EmbeddingModel
from clapcli.models.hub import ModelRef, load_pretrained
from clapcli.models.windowed import exp_scale, project_texts

# config.json model_type -> transformers model class
MODEL_CLASSES = {"altclip": "AltCLIPModel", "clip": "CLIPModel"}


class AltClipBackend(EmbeddingModel):
    family = "altclip"
    modality = "image"
    default_template = "a photo of {}."

    def __init__(self, network: Any, tokenizer: Any, image_processor: Any, model_id: str,
                 device: torch.device, dtype: torch.dtype) -> None:
        self.network = network
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.model_id = model_id
        self.device = device
        self.dtype = dtype
        self.embedding_dim = int(network.config.projection_dim)
        self.max_text_tokens = _max_text_tokens(network.config, tokenizer)

    @classmethod
    def load(cls, ref: ModelRef, config: dict, device: torch.device, dtype: torch.dtype,
             long_audio: str | None = None) -> AltClipBackend:
        import transformers
        from transformers import AutoImageProcessor

        if long_audio is not None:
            raise InvalidField("long_audio", "{long_audio} applies to audio models; '{model}' is an image model",
                               model=ref.model_id)
        model_class = getattr(transformers, MODEL_CLASSES[str(config.get("model_type", "")).lower()])
        tokenizer, image_processor, network = load_pretrained(ref, AutoImageProcessor, model_class, device, dtype)
        return cls(network, tokenizer, image_processor, ref.model_id, device, dtype)

    @property
    def logit_scale(self) -> float:
        return exp_scale(self.network.logit_scale)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        return project_texts(self.network, self.tokenizer, texts, self.device, self.max_text_tokens)

    def prepare(self, media: Any) -> np.ndarray:
        """Resize, crop and normalize one image on the CPU: (3, H, W) float32, numpy (see
        ``EmbeddingModel.prepare``)."""
        from PIL import Image

        from clapcli.media.image import to_rgb

        if isinstance(media, Image.Image):  # in-memory images (Python API) get the same conversion as files
            media = to_rgb(media)
        return np.asarray(self.image_processor(images=media, return_tensors="np")["pixel_values"][0])

    @torch.inference_mode()
    def encode_prepared(self, items: Sequence[np.ndarray]) -> torch.Tensor:
        pixels = torch.from_numpy(np.stack(items)).to(self.device, self.dtype)
        outputs = self.network.vision_model(pixel_values=pixels)
        return self.network.visual_projection(outputs.pooler_output).float().cpu()


def _max_text_tokens(config: Any, tokenizer: Any) -> int:
    """Longest tokenized text the text tower takes; tokenizers often carry no usable limit."""
    text = config.text_config
    positions = int(text.max_position_embeddings)
    if config.model_type == "altclip":  # RoBERTa positions start after the padding index
        positions -= int(text.pad_token_id or 0) + 1
    limit = getattr(tokenizer, "model_max_length", None) or positions
    return min(int(limit), positions)
