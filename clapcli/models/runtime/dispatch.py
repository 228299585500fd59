"""Which exported runtime serves a ``LoadRequest``, and loading it: an export directory, or a runtime asked for.

- A directory with a manifest runs on its own runtime (ONNX Runtime or OpenVINO), without torch.
- ``--runtime auto`` picks one from what is installed and what the CPU offers (``auto.choose_runtime``).
- ``--runtime openvino|onnx`` on a torch checkpoint exports it once into clapcli's cache
  (``$CLAPCLI_HOME/exports``) and runs that; a local checkpoint whose content changed since is exported
  again (keyed on a hash of its files, ``clapcli.models.fingerprint``, never on their modification time).
- Everything else goes to torch (``clapcli.models.torch_loader``), which ``clap export`` also uses.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from clapcli import settings
from clapcli.errors import InvalidField
from clapcli.models.request import LoadRequest
from clapcli.models.runtime.manifest import is_export, read_manifest
from clapcli.models.torch_loader import default_embedding_model

log = logging.getLogger(__name__)


def exported_runtime(request: LoadRequest) -> str | None:
    """The exported runtime serving ``request`` ("export" for an export directory, "openvino" or "onnx"
    for a checkpoint exported once into the cache), or None when torch serves it."""
    if request.task != "embed":
        return None
    if is_export(_named_path(request)):
        return "export"
    runtime = request.runtime
    if runtime == "auto":
        from clapcli.models.runtime.auto import choose_runtime

        runtime = choose_runtime(_name(request), request.precision, request.device).runtime
    return None if runtime in (None, "torch") else runtime


def load_exported(request: LoadRequest, runtime: str) -> Any:
    """The model ``request`` names on ``runtime`` (as ``exported_runtime`` chose it), without torch."""
    from clapcli.models.runtime.model import load_export

    if runtime == "export":
        directory = _named_path(request)
        _check_cpu_options(directory, request.device, request.dtype)
        own = None if request.runtime in (None, "auto") else request.runtime
        return load_export(directory, own, request.precision, request.long_audio)
    _check_cpu_options(Path(_name(request)), request.device, request.dtype)
    return load_export(cached_export(_name(request), runtime), runtime, request.precision, request.long_audio)


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


def cache_dir(model_id: str, fmt: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", model_id.strip("/"))[-60:]
    digest = hashlib.sha1(model_id.encode("utf-8")).hexdigest()[:8]
    return settings.home() / "exports" / f"{slug}-{digest}-{fmt}"


def cached_export(name: str, fmt: str) -> Path:
    """The cache's export of ``name`` in ``fmt``, written on first use (torch is needed only then)."""
    from clapcli.models import registry
    from clapcli.models.hub import resolve_ref

    ref = resolve_ref(name, registry.EMBEDDING_ALIASES)
    target = cache_dir(ref.model_id, fmt)
    if is_export(target):
        manifest = read_manifest(target)  # a broken cache entry fails here, naming the file
        if _current(manifest, ref):
            return target
    from clapcli.models.runtime.export import export_model

    log.info("exporting %s to %s once into %s (needs torch; later runs use the export)", ref.model_id, fmt, target)
    export_model(ref.location, target, fmt, overwrite=True)
    return target


def _current(manifest: Any, ref: Any) -> bool:
    """Whether a cached export still holds a local checkpoint's weights: by their content, not their
    modification time (``cp -p`` or ``rsync -a`` give new weights an old one). Hub snapshots are
    content-addressed by revision."""
    if not ref.is_local:
        return True
    from clapcli.models.fingerprint import path_digest

    return manifest.source_digest == path_digest(Path(ref.location).expanduser())
