"""A probe on disk: a directory written whole (``models.written_dir`` rules: staged, swapped in, only ever
replacing a directory ``clap train`` wrote).

- ``probe.safetensors``: ``weight`` (n_classes, dim) and ``bias`` (n_classes,), float32, the blend folded in.
- ``classes.json``: the class names, in the weights' row order.
- ``probe.json``: the manifest (model id and revision, embedding dimension, training-set content hash,
  counts per class, the chosen strength and blend, cross-validated accuracy with its interval, clapcli
  version) and the list of files, which ``--overwrite`` checks before replacing anything.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.core.probe.model import Probe, ProbeError
from clapcli.models import written_dir

FORMAT = "clapcli-probe"
FORMAT_VERSION = 1
MANIFEST, WEIGHTS, CLASSES = "probe.json", "probe.safetensors", "classes.json"
FILES = [MANIFEST, WEIGHTS, CLASSES]


def _listed(folder: Path) -> set[str] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    return written_dir.plain_names(manifest.get("files")) | {MANIFEST}


WRITER = written_dir.Writer("clap train", MANIFEST, "a probe", _listed)


def check_probe_output(output: Path, overwrite: bool) -> Path:
    """Refuse, before any work, an output a probe may not be written to."""
    return written_dir.check_output(output, WRITER, overwrite)


def save_probe(probe: Probe, output: Path, overwrite: bool = False) -> Path:
    from safetensors.numpy import save_file

    target = check_probe_output(output, overwrite)
    staging = written_dir.staging_dir(target)
    try:
        save_file({"weight": np.ascontiguousarray(probe.weights, dtype=np.float32),
                   "bias": np.ascontiguousarray(probe.bias, dtype=np.float32)}, str(staging / WEIGHTS))
        (staging / CLASSES).write_text(json.dumps(probe.classes, ensure_ascii=False, indent=1) + "\n", "utf-8")
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **probe.manifest,
                    "multi_label": probe.multi_label, "embedding_dim": probe.dim, "files": FILES}
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
        written_dir.follow_umask(staging)
        written_dir.publish(staging, target, output, WRITER)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the staging directory is all ours
        raise
    return target


def load_probe(path: str | Path) -> Probe:
    """The probe in ``path``; anything else refused in one line naming the directory."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(path)
    if not folder.is_dir():
        raise ProbeError(f"--probe {folder}: no such directory; make a probe with 'clap train INPUT -o DIR'")
    manifest = _manifest(folder)
    try:
        tensors = load_file(str(folder / WEIGHTS))
        classes = json.loads((folder / CLASSES).read_text(encoding="utf-8"))
    except (OSError, ValueError, SafetensorError) as exc:
        raise ProbeError(f"--probe {folder}: cannot read the probe ({exc}); train it again") from None
    weights, bias = tensors.get("weight"), tensors.get("bias")
    if (weights is None or bias is None or weights.ndim != 2 or bias.shape != (weights.shape[0],)
            or not isinstance(classes, list) or len(classes) != weights.shape[0]
            or manifest.get("embedding_dim") != weights.shape[1]):
        raise ProbeError(f"--probe {folder}: weights, classes and manifest do not agree; train it again")
    return Probe([str(c) for c in classes], weights, bias, bool(manifest.get("multi_label")), manifest)


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProbeError(f"--probe {folder}: not a probe directory (no {MANIFEST}); make one with 'clap train'") \
            from None
    except (OSError, ValueError) as exc:
        raise ProbeError(f"--probe {folder}: {MANIFEST} is unreadable ({exc}); train it again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ProbeError(f"--probe {folder}: {MANIFEST} is not a clapcli probe manifest")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ProbeError(f"--probe {folder}: written by a newer clapcli (format {manifest['format_version']}); "
                         "upgrade clapcli")
    return manifest
