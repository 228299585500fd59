"""The one owner of "a name -> a ready model": alias / hub id / local directory, device, dtype, family
from the config, dispatch through the registry (every family, generation included)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clapcli import settings
from clapcli.errors import ClapcliError, ModelLoadError, UsageError
from clapcli.models import registry
from clapcli.models.base import LONG_AUDIO_STRATEGIES, EmbeddingModel
from clapcli.models.hub import ModelRef, keep_download_bars, read_config, resolve_ref, wrap_load_error

if TYPE_CHECKING:
    from clapcli.models.audioldm2 import AudioLDM2Pipe

QUANTIZE_CHOICES = ("none", "int8")


TASKS = ("embed", "generate")


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
        return ref  # skip importing the MS-CLAP port (seconds of transformers imports) for other models
    from clapcli.models.msclap.original import ensure_converted

    return ensure_converted(ref)


def _may_be_original_msclap(ref: ModelRef) -> bool:
    """Cheap pre-check: a local file or config-less directory, or the original hub repo."""
    if ref.is_local:
        return not (Path(ref.location) / "config.json").is_file()
    return ref.location.lower() == registry.EMBEDDING_ALIASES["msclap"].lower()


def load_model(
    name: str | None = None,
    task: str = "embed",
    device: str = "auto",
    dtype: str = "auto",
    **options: Any,
) -> Any:
    """The one way from a name (alias, hub id, local directory) to a ready model, for every family.

    ``task`` picks the alias table and default model ("embed": contrastive models, "generate":
    AudioLDM 2); the family is read from the checkpoint's config and its registry backend builds
    the model on the resolved device and dtype. ``options`` go to the backend (``long_audio`` for
    audio encoders, ``cpu_offload`` for pipelines; ``runtime``/``precision`` pick an exported runtime,
    see ``clapcli.models.runtime.dispatch``)."""
    if task not in TASKS:
        raise UsageError(f"task {task!r}: choose one of {', '.join(TASKS)}")
    runtime, precision = options.pop("runtime", None), options.pop("precision", None)
    if task == "embed":  # an export directory or --runtime openvino|onnx: served without torch
        from clapcli.models.runtime.dispatch import load_runtime

        exported, dtype = load_runtime(name or default_embedding_model(), runtime, precision, device, dtype, options)
        if exported is not None:
            return exported
    from clapcli.models.device import resolve_device, resolve_dtype

    _quiet_transformers()
    torch_device = resolve_device(device or settings.default_device())
    torch_dtype = resolve_dtype(dtype, torch_device)
    if task == "embed":
        ref = resolve_embedding_ref(name)
    else:
        ref = resolve_ref(name or registry.DEFAULT_GENERATION_MODEL, registry.GENERATION_ALIASES)
    config = read_config(ref)
    family = _family(ref, config, task)
    backend = import_backend(family.backend)
    try:
        return backend(ref, config, torch_device, torch_dtype, **options)
    except ClapcliError:
        raise
    except Exception as exc:  # corrupt weights raise library-specific errors (e.g. SafetensorError)
        raise wrap_load_error(ref, exc) from None


def _family(ref: ModelRef, config: dict, task: str) -> registry.Family:
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
        raise ModelLoadError(f"model '{ref.location}' is a '{kind}' checkpoint, not an AudioLDM 2 pipeline; "
                             "clap generate needs one (e.g. cvssp/audioldm2; see 'clap models')")
    return family


def load_embedding_model(
    name: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    quantize: str | None = None,
    long_audio: str | None = None,
    runtime: str | None = None,
    precision: str | None = None,
) -> EmbeddingModel:
    """Load a contrastive model (audio-text or image-text) ready for inference."""
    if long_audio is not None and long_audio not in LONG_AUDIO_STRATEGIES:
        raise UsageError(f"--long-audio {long_audio!r}: choose one of {', '.join(LONG_AUDIO_STRATEGIES)}")
    if quantize not in (None, *QUANTIZE_CHOICES):
        raise UsageError(f"--quantize {quantize!r}: choose one of {', '.join(QUANTIZE_CHOICES)}")
    model = load_model(name, "embed", device, dtype, long_audio=long_audio, runtime=runtime, precision=precision)
    on_torch = getattr(model, "runtime", "torch") == "torch"
    if (precision or "").strip().lower() == "int8" and on_torch:  # torch's dynamic int8 (exports quantize their own)
        quantize = "int8"
    if quantize == "int8" and not on_torch:
        raise UsageError(f"--quantize int8 quantizes torch models; on the {model.runtime} runtime use --precision "
                         "int8 (ONNX Runtime) or exact/fast")
    if quantize == "int8":
        quantize_dynamic_int8(model, model.device)
    return model


def load_generation_pipeline(name: str | None = None, device: str = "auto", dtype: str = "auto",
                             cpu_offload: bool = False) -> AudioLDM2Pipe:
    """Load an AudioLDM 2 pipeline (components on their device, our language-model loop)."""
    return load_model(name, "generate", device, dtype, cpu_offload=cpu_offload)


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
        raise UsageError("--precision int8 runs on the CPU only; add --device cpu")
    network = model.network  # type: ignore[attr-defined]
    if next(network.parameters()).dtype != torch.float32:
        raise UsageError("--precision int8 quantizes float32 weights; drop --dtype")
    with warnings.catch_warnings():  # torch.ao's deprecation notices would drown our one-line messages
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(network, {torch.nn.Linear}, dtype=torch.qint8)
    model.network = quantized  # type: ignore[attr-defined]
