"""Which exported runtime serves a ``LoadRequest``, and loading it: an export directory, or a runtime asked for.

- A directory with a manifest runs on its own runtime (ONNX Runtime or OpenVINO), without torch.
- ``auto`` (the default: ``--runtime``, else ``CLAPCLI_RUNTIME``, else auto) picks one from what is installed,
  what the CPU offers and whether the job pays for an export (``auto.plan``).
- ``--runtime openvino|onnx`` on a torch checkpoint exports it once into clapcli's cache
  (``$CLAPCLI_HOME/exports``) and runs that; a local checkpoint whose content changed since is exported
  again (keyed on a hash of its files, ``clapcli.models.fingerprint``, never on their modification time).
- Everything else goes to torch (``clapcli.models.torch_loader``), which ``clap export`` also uses.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from clapcli import settings
from clapcli.errors import InvalidField, UsageError
from clapcli.models.request import LoadRequest
from clapcli.models.runtime.export_cache import cached_export
from clapcli.models.runtime.manifest import is_export
from clapcli.models.torch_loader import default_embedding_model

log = logging.getLogger(__name__)


def exported_runtime(request: LoadRequest) -> str | None:
    """The exported runtime serving ``request`` ("export" for an export directory, "openvino" or "onnx"
    for a checkpoint exported once into the cache), or None when torch serves it."""
    if request.task != "embed":
        return None
    if is_export(_named_path(request)):
        return "export"
    runtime = request.runtime or _default_runtime()
    if runtime == "auto":
        if _torch_only(request):
            return None
        runtime = _auto_plan(request).runtime
    return None if runtime == "torch" else runtime


def _torch_only(request: LoadRequest) -> bool:
    """Options only torch honours (a dtype other than float32, torch's own int8): auto keeps to torch."""
    return request.quantize == "int8" or (request.dtype or "auto").lower() not in ("auto", "float32")


def _default_runtime() -> str:
    value = settings.default_runtime()
    if value not in settings.RUNTIME_CHOICES:
        found = settings.lookup("runtime")
        where = found.describe() if found else value
        fix = found.fix() if found else "unset it"
        raise UsageError(f"{where}: choose one of {', '.join(settings.RUNTIME_CHOICES)}, or {fix}")
    return value


def _auto_plan(request: LoadRequest, say: bool = True) -> Any:
    from clapcli.models.runtime.auto import plan

    return plan(_name(request), request.precision, request.device, request.job_size,
                explicit=say and request.runtime == "auto")


def load_exported(request: LoadRequest, runtime: str) -> Any:
    """The model ``request`` names on ``runtime`` (as ``exported_runtime`` chose it), without torch."""
    from clapcli.models.runtime.model import load_export

    if runtime == "export":
        directory = _named_path(request)
        _check_cpu_options(directory, request.device, request.dtype)
        own = None if request.runtime in (None, "auto") else request.runtime
        return load_export(directory, own, request.precision, request.long_audio)
    _check_cpu_options(Path(_name(request)), request.device, request.dtype)
    why = ""
    if (request.runtime or _default_runtime()) == "auto":
        why = _auto_plan(request, say=False).reason
    export = cached_export(_name(request), runtime, request.on_export_step, why)
    return load_export(export, runtime, request.precision, request.long_audio)


def _name(request: LoadRequest) -> str:
    return request.name or default_embedding_model()


def _named_path(request: LoadRequest) -> Path:
    return Path(_name(request)).expanduser()


def _check_cpu_options(where: Path, device: str | None, dtype: str | None) -> None:
    if (device or "auto").lower() not in ("auto", "cpu"):
        raise InvalidField("device", "'{where}': the exported runtimes run on the CPU; drop {device} {value} "
                           "or use {runtime} torch with the source checkpoint", where=where, value=device)
    if (dtype or "auto").lower() not in ("auto", "float32"):
        raise InvalidField("dtype", "'{where}': exported runtimes take {precision} exact|fast, not {dtype} {value}",
                           where=where, value=dtype)
