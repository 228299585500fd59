"""Where a conversion is written, without ever destroying what clap convert did not write.

The rules are those of every directory clapcli writes whole (``clapcli.models.written_dir``): OUT is
refused when it is a file, holds the checkpoint, or is (an ancestor of) the current directory;
``--overwrite`` replaces only a directory holding a manifest (``clapcli-convert.json``) and nothing
beyond the files it lists; the new model is written to a sibling staging directory and swapped in.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clapcli.errors import OutputError
from clapcli.models import written_dir

MANIFEST = "clapcli-convert.json"  # marks a directory clap convert wrote, and lists its files


def _manifest_files(folder: Path) -> set[str] | None:
    """Names clap convert wrote into ``folder`` (manifest included), or None when it is not ours."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("written_by") != "clapcli convert":
        return None
    files = manifest.get("files")
    if not isinstance(files, list):
        return None
    return written_dir.relative_names(files) | {MANIFEST}


CONVERT = written_dir.Writer("clap convert", MANIFEST, "a model clap convert wrote", _manifest_files)


def prepare_output(output: Path, checkpoint: Path, overwrite: bool) -> Path:
    """The resolved output directory, after refusing every OUT whose replacement could destroy a user file."""
    source = checkpoint.expanduser()
    return written_dir.check_output(output, CONVERT, overwrite, source=source,
                                    suggestion=source.parent / f"{source.stem}-hf")


def write_directory(model: Any, processor: Any, target: Path, output: Path, source: str) -> None:
    """A converted CLAP model and its processor, written as ``write_staged`` writes."""
    def save(staging: Path) -> None:
        model.save_pretrained(staging, safe_serialization=True)
        processor.save_pretrained(staging)
        processor.feature_extractor.save_pretrained(staging)  # preprocessor_config.json for AutoFeatureExtractor

    write_staged(save, target, output, source)


def write_staged(save: Callable[[Path], None], target: Path, output: Path, source: str) -> None:
    """``save(staging)`` into a sibling temp dir, then a manifest, then the swap: no half-written model, and no
    lost old one, on failure."""
    try:
        staging = written_dir.staging_dir(target)
    except OSError as exc:
        raise OutputError(f"could not write '{output}': {exc.strerror or exc}") from None
    try:
        save(staging)
        _write_manifest(staging, source)
        written_dir.follow_umask(staging)  # safetensors' weights come 0600, as its temporary file was
        written_dir.publish(staging, target, output, CONVERT)
    except OSError as exc:
        raise OutputError(f"could not write '{output}': {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful swap


def _write_manifest(folder: Path, source: str) -> None:
    from clapcli.version import __version__

    # Files in subfolders too (a diffusers pipeline keeps one per component), as "vae/config.json".
    entries = sorted(path for path in folder.rglob("*") if path.is_symlink() or not path.is_dir())
    if any(path.is_symlink() or not path.is_file() for path in entries):  # --overwrite would refuse our own output
        raise OutputError(f"conversion wrote a link or special file into '{folder}'; please report this")
    files = [path.relative_to(folder).as_posix() for path in entries]
    manifest = {"written_by": "clapcli convert", "clapcli_version": __version__, "source": source, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
