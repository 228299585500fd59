"""The one owner of "a name -> a ready model", a facade: a ``LoadRequest`` says what and how, the runtime
that serves it is picked (an export directory's own, ``--runtime``, or torch), and that runtime's loader
is called from ``LOADERS``. The torch path (``torch_loader``) sits below the exported runtimes
(``runtime.dispatch``), which use it to export; neither imports this module."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clapcli.errors import InvalidField
from clapcli.models.base import EmbeddingModel
from clapcli.models.request import QUANTIZE_CHOICES, TASKS, LoadRequest  # noqa: F401  (re-exported)
from clapcli.models.runtime.dispatch import exported_runtime, load_exported
from clapcli.models.torch_loader import (  # noqa: F401  (re-exported: the names callers know)
    default_embedding_model,
    import_backend,
    load_torch,
    quantize_dynamic_int8,
    resolve_embedding_ref,
)

if TYPE_CHECKING:
    from clapcli.models.audioldm2 import AudioLDM2Pipe
    from clapcli.models.stable_audio import StableAudioPipe

LOADERS: dict[str, Callable[[LoadRequest, str], Any]] = {
    "torch": lambda request, runtime: load_torch(request),
    "export": load_exported,  # a directory written by clap export: its own runtime
    "openvino": load_exported,
    "onnx": load_exported,
}


def load(request: LoadRequest) -> Any:
    """The model ``request`` names, on the runtime that serves it."""
    runtime = exported_runtime(request) or "torch"
    if request.quantize == "int8" and runtime != "torch":
        raise InvalidField("quantize", "{quantize} int8 quantizes torch models; on the {value} runtime use "
                           "{precision} int8 (ONNX Runtime) or exact/fast", value=runtime)
    return LOADERS[runtime](request, runtime)


def load_model(name: str | None = None, task: str = "embed", device: str = "auto", dtype: str = "auto",
               **options: Any) -> Any:
    """``load(LoadRequest(...))`` from keywords: ``long_audio``, ``runtime``, ``precision``, ``quantize``
    for embedding models, ``cpu_offload`` for generation (see ``LoadRequest``)."""
    return load(LoadRequest(name, task, device, dtype, **options))


def load_embedding_model(
    name: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    quantize: str | None = None,
    long_audio: str | None = None,
    runtime: str | None = None,
    precision: str | None = None,
    *,
    job_size: int | None = None,
    on_export_step: Callable[[str], None] | None = None,
) -> EmbeddingModel:
    """Load a contrastive model (audio-text or image-text) ready for inference. With the default runtime
    (auto), ``job_size`` (how many inputs it will encode) decides whether exporting it first pays;
    ``on_export_step`` hears the steps of such an export."""
    request = LoadRequest(name, "embed", device, dtype, long_audio, runtime, precision, quantize,
                          job_size=job_size, on_export_step=on_export_step)
    model: EmbeddingModel = load(request)
    return model


def load_generation_pipeline(name: str | None = None, device: str = "auto", dtype: str = "auto",
                             cpu_offload: bool = False) -> AudioLDM2Pipe | StableAudioPipe:
    """Load a text-to-audio pipeline: AudioLDM 2 (components on their device, our language-model loop),
    Stable Audio Open or Stable Audio 3 (diffusers' pipelines as they are)."""
    request = LoadRequest(name, "generate", device, dtype, cpu_offload=cpu_offload)
    pipeline: AudioLDM2Pipe | StableAudioPipe = load(request)
    return pipeline
