"""The torch path of "a name -> a ready model": the checkpoint (alias, hub id, local directory, or an
original MS-CLAP file converted once), its family read from the config, the family's loader from the
registry on the resolved device and dtype. The exported runtimes sit above it: ``clap export`` loads
the torch model through here, and nothing here knows about them."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from clapcli import settings
from clapcli.errors import ClapcliError, InvalidField, ModelLoadError
from clapcli.models import registry
from clapcli.models.base import EmbeddingModel
from clapcli.models.hub import ModelRef, keep_download_bars, read_config, resolve_ref, wrap_load_error
from clapcli.models.request import LoadRequest


def import_backend(path: str) -> Any:
    """``package.module:Attribute[.attribute]`` -> the object (a backend's ``load``)."""
    module_name, _, attribute = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def default_embedding_model() -> str:
    return settings.default_model() or registry.DEFAULT_EMBEDDING_MODEL


def resolve_embedding_ref(name: str | None) -> ModelRef:
    """The checkpoint to load; original MS-CLAP ``.pth`` files are converted once into the cache."""
    ref = resolve_ref(name or default_embedding_model(), registry.EMBEDDING_ALIASES)
    if not _may_be_original_msclap(ref):
        return ref  # skip importing the MS-CLAP conversion (seconds of transformers imports) for other models
    from clapcli.models.conversion.on_first_use import ensure_converted

    return ensure_converted(ref)


def resolve_generation_ref(name: str | None) -> ModelRef:
    """The pipeline to load; Stable Audio 3 releases in stable-audio-tools form are converted once into the cache."""
    ref = resolve_ref(name or registry.DEFAULT_GENERATION_MODEL, registry.GENERATION_ALIASES)
    is_release = (ref.location.lower() in {repo.lower() for repo in registry.SA3_RELEASES} if not ref.is_local
                  else (Path(ref.location) / "model_config.json").is_file())
    if not is_release:
        return ref  # skip importing the conversion for every other pipeline
    from clapcli.models.conversion.sa3_on_first_use import ensure_converted

    return ensure_converted(ref)


def _may_be_original_msclap(ref: ModelRef) -> bool:
    """Cheap pre-check: a local file or config-less directory, or the original hub repo."""
    if ref.is_local:
        return not (Path(ref.location) / "config.json").is_file()
    return ref.location.lower() == registry.EMBEDDING_ALIASES["msclap"].lower()


def load_torch(request: LoadRequest) -> Any:
    """The model ``request`` names, built by its family's loader on torch (int8 applied when asked)."""
    from clapcli.models.device import resolve_device, resolve_dtype

    _quiet_transformers()
    device = resolve_device(request.device or settings.default_device())
    dtype = resolve_dtype(torch_dtype(request), device)
    if request.task == "embed":
        ref = resolve_embedding_ref(request.name)
    else:
        ref = resolve_generation_ref(request.name)
    config = read_config(ref)
    backend = import_backend(_family(ref, config, request.task).backend)
    try:
        model = backend(ref, config, device, dtype, **request.backend_options())
    except ClapcliError:
        raise
    except Exception as exc:  # corrupt weights raise library-specific errors (e.g. SafetensorError)
        raise wrap_load_error(ref, exc) from None
    if request.task == "embed" and request.wants_int8:
        quantize_dynamic_int8(model, model.device)
    return model


def torch_dtype(request: LoadRequest) -> str:
    """The dtype ``request.precision`` means on torch; a different explicit ``dtype`` beside it is a usage error."""
    from clapcli.models.precision import choose

    if request.precision is None:
        return request.dtype
    if request.precision == "fast" and _on_gpu(request.device):
        return "auto"  # float16 on CUDA: the GPU's fast type
    choice = choose(request.precision, "torch")
    compute = "float32" if choice.compute == "int8" else choice.compute
    if (request.dtype or "auto") not in ("auto", compute):
        raise InvalidField("precision", "{precision} {name} and {dtype} {value} disagree; pass {precision} only",
                           name=choice.name, value=request.dtype)
    return compute


def _on_gpu(device: str | None) -> bool:
    from clapcli.models.device import resolve_device

    return resolve_device(device or settings.default_device()).type != "cpu"


def _family(ref: ModelRef, config: dict[str, Any], task: str) -> registry.Family:
    name = registry.family_from_config(config)
    kind = config.get("_class_name") or config.get("model_type") or "unknown"
    if name is None:
        raise ModelLoadError(
            f"model '{ref.location}' is a '{kind}' checkpoint, which clapcli does not serve; run 'clap models'"
        )
    family = registry.FAMILIES[name]
    if task == "embed" and family.modality == "generation":
        raise ModelLoadError(
            f"model '{ref.location}' is a text-to-audio generator; use it with 'clap generate', not for embeddings"
        )
    if task == "generate" and family.modality != "generation":
        raise ModelLoadError(f"model '{ref.location}' is a '{kind}' checkpoint, not a text-to-audio pipeline; "
                             "clap generate needs AudioLDM 2 or Stable Audio (e.g. cvssp/audioldm2; see 'clap models')")
    return family


def _quiet_transformers() -> None:
    """Library progress bars and warnings would drown our one-line messages on stderr."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # its "Loading weights" bars; the hub's download bars come back:
    keep_download_bars()


def quantize_dynamic_int8(model: EmbeddingModel, device: Any) -> None:
    """Dynamic int8 quantization of the linear layers (CPU only; float32 weights only).

    Measured speed-ups and cosines to float32 are in benchmarks/README.md (cpu-precision)."""
    import warnings

    import torch

    if device.type != "cpu":
        raise InvalidField("precision", "{precision} int8 runs on the CPU only; add {device} cpu")
    network = model.network  # type: ignore[attr-defined]
    if next(network.parameters()).dtype != torch.float32:
        raise InvalidField("precision", "{precision} int8 quantizes float32 weights; drop {dtype}")
    with warnings.catch_warnings():  # torch.ao's deprecation notices would drown our one-line messages
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(network, {torch.nn.Linear}, dtype=torch.qint8)
    model.network = quantized  # type: ignore[attr-defined]
