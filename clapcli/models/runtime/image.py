"""An exported AltCLIP / CLIP (image and text towers) behind the ``EmbeddingModel`` interface, without torch.

``ImagePreprocessor`` is the transformers CLIP image processor (PIL backend) redone in numpy/PIL
from the settings the export recorded: shortest side resized with the checkpoint's resample filter
(on the 8-bit RGB image, as transformers does), center crop (zero-padded when the image is
smaller), rescale in float64 then float32, normalize in float32. Equal to
``image_processor(images=..., return_tensors="np")`` within 1e-6 (tests/runtime/test_export_image.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from math import ceil
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.errors import ModelLoadError
from clapcli.models.base import EmbeddingModel
from clapcli.models.runtime.exported import ExportedTextSide, Rows, rows
from clapcli.models.runtime.manifest import Manifest

IMAGE_KEYS = ("size", "crop_size", "resample", "do_resize", "do_center_crop", "do_rescale", "rescale_factor",
              "do_normalize", "image_mean", "image_std")


def image_settings(processor: Any) -> dict[str, Any]:
    """What ``ImagePreprocessor`` needs from a transformers image processor, as plain JSON values."""
    settings: dict[str, Any] = {}
    for key in IMAGE_KEYS:
        value = getattr(processor, key, None)
        if dataclasses.is_dataclass(value):  # transformers' SizeDict
            value = dataclasses.asdict(value)  # type: ignore[arg-type]
        if hasattr(value, "items"):
            value = {k: v for k, v in dict(value).items() if v is not None}
        elif isinstance(value, (tuple, list)):
            value = [float(v) for v in value]
        elif key == "resample" and value is not None:
            value = int(value)
        settings[key] = value
    return settings


class ImagePreprocessor:
    """An RGB ``PIL.Image`` -> (3, H, W) float32 pixel values, as the checkpoint's image processor."""

    def __init__(self, settings: dict[str, Any], where: str = "export") -> None:
        try:
            self.size = dict(settings.get("size") or {})
            self.crop = dict(settings.get("crop_size") or {})
            self.resample = int(settings["resample"]) if settings.get("resample") is not None else 2  # BILINEAR
            self.do_resize = bool(settings.get("do_resize", True))
            self.do_crop = bool(settings.get("do_center_crop", True))
            self.do_rescale = bool(settings.get("do_rescale", True))
            self.scale = float(settings.get("rescale_factor") or 1 / 255)
            self.do_normalize = bool(settings.get("do_normalize", True))
            self.mean = np.array(settings.get("image_mean") or [0.0, 0.0, 0.0], dtype=np.float32)
            self.std = np.array(settings.get("image_std") or [1.0, 1.0, 1.0], dtype=np.float32)
        except (TypeError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"{where}: the image settings in its manifest are unreadable ({exc}); "
                                 "export again with --overwrite") from None
        if self.do_resize and not (self.size.get("shortest_edge") or (self.size.get("height")
                                                                      and self.size.get("width"))):
            raise ModelLoadError(f"{where}: image size {self.size} is not shortest_edge or height/width; "
                                 "run it with --runtime torch")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) after the resize (transformers' ``get_resize_output_image_size``)."""
        if self.size.get("shortest_edge"):
            target = int(self.size["shortest_edge"])
            short, long = (width, height) if width <= height else (height, width)
            new_long = int(target * long / short)
            return (new_long, target) if width <= height else (target, new_long)
        return int(self.size["height"]), int(self.size["width"])

    def __call__(self, image: Any) -> np.ndarray:
        from clapcli.media.image import to_rgb

        image = to_rgb(image)
        if self.do_resize:
            height, width = self.output_size(image.height, image.width)
            image = image.resize((width, height), resample=self.resample)
        pixels = np.moveaxis(np.asarray(image), -1, 0)  # (3, H, W) uint8
        if self.do_crop:
            pixels = center_crop(pixels, int(self.crop["height"]), int(self.crop["width"]))
        if self.do_rescale:
            pixels = (pixels.astype(np.float64) * self.scale).astype(np.float32)
        pixels = pixels.astype(np.float32)
        if self.do_normalize:
            pixels = ((pixels.T - self.mean) / self.std).T
        return np.ascontiguousarray(pixels, dtype=np.float32)


def center_crop(pixels: np.ndarray, crop_height: int, crop_width: int) -> np.ndarray:
    """transformers' ``center_crop`` on (C, H, W): offsets floor toward the top-left, zero-padded if smaller."""
    height, width = pixels.shape[-2:]
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    if top >= 0 and left >= 0:
        return pixels[..., top:top + crop_height, left:left + crop_width]
    new_height, new_width = max(crop_height, height), max(crop_width, width)
    padded = np.zeros(pixels.shape[:-2] + (new_height, new_width), dtype=pixels.dtype)
    top_pad, left_pad = ceil((new_height - height) / 2), ceil((new_width - width) / 2)
    padded[..., top_pad:top_pad + height, left_pad:left_pad + width] = pixels
    top, left = top + top_pad, left + left_pad
    return padded[..., max(0, top):min(new_height, top + crop_height), max(0, left):min(new_width, left + crop_width)]


class ExportedImageModel(ExportedTextSide, EmbeddingModel):
    """AltCLIP or CLIP from an export directory: image and text towers via ONNX Runtime or OpenVINO."""

    family = "altclip"
    modality = "image"
    default_template = "a photo of {}."

    def __init__(self, directory: Path, manifest: Manifest, towers: Any) -> None:
        self.attach(directory, manifest, towers)
        self.preprocess = ImagePreprocessor(manifest.image, f"export directory '{directory}'")

    def prepare(self, media: Any) -> np.ndarray:
        return self.preprocess(media)

    def encode_prepared(self, items: Sequence[np.ndarray]) -> Rows:
        return rows(self.towers.image(np.stack(items)))
