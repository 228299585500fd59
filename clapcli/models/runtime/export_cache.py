"""The exports clapcli writes for itself: one per model and format under ``$CLAPCLI_HOME/exports``, written on
first use and reused while they still hold the model's weights (keyed on a hash of a local checkpoint's
files, ``clapcli.models.fingerprint``, never on their modification time)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clapcli import settings
from clapcli.errors import ClapcliError
from clapcli.models.runtime.manifest import is_export, read_manifest

log = logging.getLogger(__name__)

StepCallback = Callable[[str], None]


def cache_dir(model_id: str, fmt: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", model_id.strip("/"))[-60:]
    digest = hashlib.sha1(model_id.encode("utf-8")).hexdigest()[:8]
    return settings.home() / "exports" / f"{slug}-{digest}-{fmt}"


def _ref(name: str) -> Any:
    from clapcli.models import registry
    from clapcli.models.hub import resolve_ref

    return resolve_ref(name, registry.EMBEDDING_ALIASES)


def ready(name: str, fmt: str) -> bool:
    """Whether the cache holds a current export of ``name`` in ``fmt`` (nothing is written or loaded)."""
    try:
        ref = _ref(name)
        target = cache_dir(ref.model_id, fmt)
        return is_export(target) and _current(read_manifest(target), ref)
    except (ClapcliError, OSError, ValueError):  # a broken entry is rewritten by cached_export
        return False


def cached_export(name: str, fmt: str, on_step: StepCallback | None = None, why: str = "") -> Path:
    """The cache's export of ``name`` in ``fmt``, written on first use (torch is needed only then);
    ``on_step`` hears each step of that export (a progress bar), ``why`` ends its one-line note."""
    ref = _ref(name)
    target = cache_dir(ref.model_id, fmt)
    if is_export(target):
        manifest = read_manifest(target)  # a broken cache entry fails here, naming the file
        if _current(manifest, ref):
            return target
    from clapcli.models.runtime.export import export_model

    log.info("exporting %s to %s once into %s%s (later runs start from it)", ref.model_id, fmt, target,
             f"; {why}" if why else "")
    export_model(ref.location, target, fmt, overwrite=True, on_step=on_step)
    return target


def _current(manifest: Any, ref: Any) -> bool:
    """Whether a cached export still holds a local checkpoint's weights: by their content, not their
    modification time (``cp -p`` or ``rsync -a`` give new weights an old one). Hub snapshots are
    content-addressed by revision."""
    if not ref.is_local:
        return True
    from clapcli.models.fingerprint import path_digest

    return manifest.source_digest == path_digest(Path(ref.location).expanduser())
