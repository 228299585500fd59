"""Serve Stable Audio 3 releases in their original form (``model_config.json`` + ``model.safetensors``) wherever
``clap generate`` takes a model: converted once into ``$CLAPCLI_HOME/converted/<name>`` and served from there.

``ensure_converted`` returns anything else unchanged, touching nothing but a ``stat``: the built-in hub
releases (``registry.SA3_RELEASES``, downloaded first; gated: one line naming the licence and the token)
and local release folders are converted. A local folder's copy is keyed by the weights' path, size and
mtime (a changed file is converted again); a hub release's by its id (a new upstream revision is not
noticed: ``clap cache`` removes the copy). That a conversion happens is logged at INFO on the ``clapcli``
logger, which the CLI shows as a note.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from clapcli.models.hub import ModelRef

log = logging.getLogger(__name__)
CONFIG_FILE = "model_config.json"


def is_release_folder(path: Path) -> bool:
    """A stable-audio-tools release, not a pipeline diffusers saved."""
    return path.is_dir() and (path / CONFIG_FILE).is_file() and not (path / "model_index.json").is_file()


def ensure_converted(ref: ModelRef) -> ModelRef:
    """``ref`` itself, or a local ref to the converted copy of a Stable Audio 3 release."""
    from clapcli.models import registry
    from clapcli.models.conversion.on_first_use import converted_root

    if ref.is_local:
        folder = Path(ref.location)
        if not is_release_folder(folder):
            return ref
        from clapcli.models.conversion.sa3_convert import locate

        weights, _ = locate(folder)  # model.safetensors or model.ckpt; none: one line
        stat = weights.stat()
        key = hashlib.sha256(f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        target, source = converted_root() / f"{folder.name}-{key}", str(folder)
    elif ref.location.lower() in {repo.lower() for repo in registry.SA3_RELEASES}:
        target, source = converted_root() / ref.location.replace("/", "--"), ref.location
    else:
        return ref
    if not (target / "model_index.json").is_file():
        from clapcli.models.conversion.sa3_convert import convert_sa3, locate

        weights, _ = locate(source)  # a hub release is downloaded here: its failures come before the note
        log.info("converting Stable Audio 3 release %s once into %s (diffusers layout)", source, target)
        convert_sa3(weights.parent, target, overwrite=True)
    return ModelRef(ref.name, str(target), True)
