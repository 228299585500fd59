"""Load a model by hub id, alias or local directory: one load per run, eval mode, chosen device."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from clapcli.errors import ClapcliError, ModelLoadError, UsageError
from clapcli.models import registry
from clapcli.models.base import LONG_AUDIO_STRATEGIES, EmbeddingModel
from clapcli.models.hub import ModelRef, read_config, resolve_ref, wrap_load_error

QUANTIZE_CHOICES = ("none", "int8")


def import_backend(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def default_embedding_model() -> str:
    return os.environ.get("CLAPCLI_MODEL") or registry.DEFAULT_EMBEDDING_MODEL


def resolve_embedding_ref(name: str | None) -> ModelRef:
    """The checkpoint to load; original MS-CLAP ``.pth`` files are converted once into the cache."""
    ref = resolve_ref(name or default_embedding_model(), registry.EMBEDDING_ALIASES)
    if not _may_be_original_msclap(ref):
        return ref  # skip importing the MS-CLAP port (seconds of transformers imports) for other models
    from clapcli.models.msclap.original import ensure_converted

    return ensure_converted(ref)


def _may_be_original_msclap(ref: ModelRef) -> bool:
    """Cheap pre-check: a local file or config-less directory, or the original hub repo."""
    if ref.is_local:
        return not (Path(ref.location) / "config.json").is_file()
    return ref.location.lower() == registry.EMBEDDING_ALIASES["msclap"].lower()


def load_embedding_model(
    name: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    quantize: str | None = None,
    long_audio: str | None = None,
) -> EmbeddingModel:
    """Load a contrastive model (audio-text or image-text) ready for inference."""
    from clapcli.models.device import resolve_device, resolve_dtype

    if long_audio is not None and long_audio not in LONG_AUDIO_STRATEGIES:
        raise UsageError(f"--long-audio {long_audio!r}: choose one of {', '.join(LONG_AUDIO_STRATEGIES)}")
    if quantize not in (None, *QUANTIZE_CHOICES):
        raise UsageError(f"--quantize {quantize!r}: choose one of {', '.join(QUANTIZE_CHOICES)}")
    _quiet_transformers()
    torch_device = resolve_device(device or os.environ.get("CLAPCLI_DEVICE") or "auto")
    torch_dtype = resolve_dtype(dtype, torch_device)
    ref = resolve_embedding_ref(name)
    config = read_config(ref)
    family_name = registry.family_from_config(config)
    if family_name is None:
        kind = config.get("_class_name") or config.get("model_type") or "unknown"
        raise ModelLoadError(
            f"model '{ref.location}' is a '{kind}' checkpoint, which clapcli does not serve; run 'clap models'"
        )
    family = registry.FAMILIES[family_name]
    if family.modality == "generation":
        raise ModelLoadError(
            f"model '{ref.location}' is a text-to-audio generator; use it with 'clap generate', not for embeddings"
        )
    backend = import_backend(family.backend)
    try:
        model = backend.load(ref, config, torch_device, torch_dtype, long_audio=long_audio)
    except ClapcliError:
        raise
    except Exception as exc:  # corrupt weights raise library-specific errors (e.g. SafetensorError)
        raise wrap_load_error(ref, exc) from None
    if quantize == "int8":
        quantize_dynamic_int8(model, torch_device)
    return model


def _quiet_transformers() -> None:
    """Library progress bars and warnings would drown our one-line messages on stderr."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def quantize_dynamic_int8(model: EmbeddingModel, device: Any) -> None:
    """Dynamic int8 quantization of the linear layers (CPU only; float32 weights only).

    Measured speed-ups and cosines to float32 are in benchmarks/README.md (cpu-precision)."""
    import warnings

    import torch

    if device.type != "cpu":
        raise UsageError("--quantize int8 runs on the CPU only; add --device cpu")
    network = model.network  # type: ignore[attr-defined]
    if next(network.parameters()).dtype != torch.float32:
        raise UsageError("--quantize int8 quantizes float32 weights; drop --dtype or use --dtype float32")
    with warnings.catch_warnings():  # torch.ao's deprecation notices would drown our one-line messages
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(network, {torch.nn.Linear}, dtype=torch.qint8)
    model.network = quantized  # type: ignore[attr-defined]
