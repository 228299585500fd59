"""``load_model``'s hook for exported runtimes: an export directory, or ``--runtime``/``--precision``.

- A directory with a manifest runs on its own runtime (ONNX Runtime or OpenVINO), without torch.
- ``--runtime auto`` picks one from what is installed and what the CPU offers (``auto.choose_runtime``).
- ``--runtime openvino|onnx`` on a torch checkpoint exports it once into clapcli's cache
  (``$CLAPCLI_HOME/exports``) and runs that; a local checkpoint whose content changed since is exported
  again (keyed on a hash of its files, ``clapcli.models.fingerprint``, never on their modification time).
- ``--precision`` on torch is a dtype: exact float32, fast bfloat16 where the CPU has native bfloat16
  (on a GPU: the device's half type, as ``--dtype auto``), bfloat16, float16; int8 is float32 weights
  that ``load_embedding_model`` quantizes.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from clapcli import settings
from clapcli.errors import UsageError
from clapcli.models.runtime import RUNTIMES
from clapcli.models.runtime.manifest import is_export, read_manifest
from clapcli.models.runtime.precision import choose

log = logging.getLogger(__name__)


def load_runtime(name: str, runtime: str | None, precision: str | None, device: str | None, dtype: str | None,
                 options: dict[str, Any]) -> tuple[Any, str | None]:
    """(the exported model, None), or (None, the dtype for the torch path) when torch serves ``name``."""
    if runtime is not None and runtime not in RUNTIMES:
        raise UsageError(f"--runtime {runtime!r}: choose one of {', '.join(RUNTIMES)}")
    local = Path(name).expanduser()
    if local.is_dir() and is_export(local):
        _check_cpu_options(local, device, dtype)
        from clapcli.models.runtime.model import load_export

        return load_export(local, None if runtime == "auto" else runtime, precision, options.get("long_audio")), None
    if runtime == "auto":
        from clapcli.models.runtime.auto import choose_runtime

        runtime = choose_runtime(name, precision, device).runtime
    if runtime in (None, "torch"):
        return None, _torch_dtype(precision, device, dtype)
    _check_cpu_options(Path(name), device, dtype)
    from clapcli.models.runtime.model import load_export

    return load_export(cached_export(name, runtime), runtime, precision, options.get("long_audio")), None


def _torch_dtype(precision: str | None, device: str | None, dtype: str | None) -> str | None:
    """The dtype ``--precision`` means on torch; a different explicit ``dtype`` beside it is a usage error."""
    if precision is None:
        return dtype
    if precision.strip().lower() == "fast" and _on_gpu(device):
        return "auto"  # float16 on CUDA: the GPU's fast type
    choice = choose(precision, "torch")
    compute = "float32" if choice.compute == "int8" else choice.compute
    if (dtype or "auto") not in ("auto", compute):
        raise UsageError(f"--precision {choice.name} and --dtype {dtype} disagree; pass --precision only")
    return compute


def _on_gpu(device: str | None) -> bool:
    from clapcli.models.device import resolve_device

    return resolve_device(device or settings.default_device()).type != "cpu"


def _check_cpu_options(where: Path, device: str | None, dtype: str | None) -> None:
    if (device or "auto").lower() not in ("auto", "cpu"):
        raise UsageError(f"'{where}': the exported runtimes run on the CPU; drop --device {device} "
                         "or use --runtime torch with the source checkpoint")
    if (dtype or "auto").lower() not in ("auto", "float32"):
        raise UsageError(f"'{where}': exported runtimes take --precision exact|fast, not --dtype {dtype}")


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
