"""Where a conversion is written, without ever destroying what clap convert did not write.

OUT is refused when it is a file, holds the checkpoint, or is (an ancestor of) the current
directory. ``--overwrite`` replaces only a directory holding a manifest (``clapcli-convert.json``)
and nothing beyond the files it lists. The new model is written to a sibling staging directory and
swapped in: a failure leaves neither a half-written model nor a lost old one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from clapcli.errors import OutputError

MANIFEST = "clapcli-convert.json"  # marks a directory clap convert wrote, and lists its files


def prepare_output(output: Path, checkpoint: Path, overwrite: bool) -> Path:
    """The resolved output directory, after refusing every OUT whose replacement could destroy a user file."""
    target = output.resolve()  # a symlinked OUT: what it points at is what gets replaced
    if target.exists() and not target.is_dir():
        raise OutputError(f"output '{output}' exists and is a file; pass a directory path")
    source = checkpoint.expanduser()
    homes = {source.absolute().parent, source.resolve().parent}  # the link's folder and the real file's
    if any(target == folder or target in folder.parents for folder in homes):
        suggestion = source.parent / f"{source.stem}-hf"
        raise OutputError(
            f"output directory '{output}' holds the checkpoint '{checkpoint}'; write to a new directory, "
            f"e.g. '{suggestion}'"
        )
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise OutputError(
            f"output directory '{output}' is the current directory or holds it; write to a new directory"
        )
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise OutputError(f"output directory '{output}' exists and is not empty; add --overwrite to replace it")
        _check_replaceable(target, output)
    return target


def _check_replaceable(target: Path, output: Path) -> None:
    """--overwrite replaces only what clap convert wrote: its manifest and the files the manifest lists."""
    written = _manifest_files(target)
    if written is None:
        raise OutputError(
            f"output directory '{output}' was not written by clap convert (no {MANIFEST}); --overwrite "
            "replaces only such a directory: remove it yourself or choose another output directory"
        )
    for entry in sorted(target.iterdir()):
        if entry.name not in written or entry.is_symlink() or not entry.is_file():
            raise OutputError(
                f"output directory '{output}' holds '{entry.name}', which clap convert did not write; "
                "remove it yourself or choose another output directory"
            )


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
    return {name for name in files if isinstance(name, str) and "/" not in name} | {MANIFEST}


def write_directory(model: Any, processor: Any, target: Path, output: Path, source: str) -> None:
    """Write into a sibling temp dir, then swap it in: no half-written model, and no lost old one, on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        processor.save_pretrained(staging)
        processor.feature_extractor.save_pretrained(staging)  # preprocessor_config.json for AutoFeatureExtractor
        _write_manifest(staging, source)
        _swap_in(staging, target, output)
    except OSError as exc:
        raise OutputError(f"could not write '{output}': {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful swap


def _write_manifest(folder: Path, source: str) -> None:
    from clapcli import __version__

    files = sorted(entry.name for entry in folder.iterdir())
    if any(not (folder / name).is_file() for name in files):  # --overwrite would refuse our own output
        raise OutputError(f"conversion wrote a subdirectory into '{folder}'; please report this")
    manifest = {"written_by": "clapcli convert", "clapcli_version": __version__, "source": source, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _swap_in(staging: Path, target: Path, output: Path) -> None:
    """Old aside, new in, then delete the old: a failed rename puts the old directory back."""
    if not target.exists() or not any(target.iterdir()):
        _rename(staging, target)  # onto nothing or an empty directory (POSIX rename replaces it)
        return
    _check_replaceable(target, output)  # again: files may have appeared during the conversion
    aside = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    _rename(target, aside)
    try:
        _rename(staging, target)
    except OSError:
        _rename(aside, target)
        raise
    _remove_written(aside)


def _rename(source: Path, destination: Path) -> None:
    os.rename(source, destination)  # a seam for tests that simulate a failing rename


def _remove_written(folder: Path) -> None:
    """Delete only the files our manifest lists: anything that appeared meanwhile stays, with its folder."""
    for name in _manifest_files(folder) or ():
        (folder / name).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass
