"""clapcli's cache: the files it derives and can rebuild (``settings.home()``), listed and removed.

Only what clapcli itself writes there is ever listed or removed: each export, compiled tower,
int8 copy and converted checkpoint (one entry per folder in ``exports/``, ``openvino-cache/``,
``onnx-int8/`` and ``converted/``) and ``file-hashes.json``. Anything else (the default library
when ``CLAPCLI_HOME`` holds it, files the user put there) is never touched. Symbolic links are
removed as links; nothing they point to is followed.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clapcli import settings

FOLDERS = ("exports", "openvino-cache", "onnx-int8", "converted")
FILES = ("file-hashes.json",)


@dataclass(frozen=True)
class CacheEntry:
    name: str  # relative to the cache, with '/' ("exports/laion-clap-1a2b-openvino")
    path: Path
    bytes: int
    last_used: float  # the latest access or modification time of anything in it (seconds since the epoch)


def cache_root() -> Path:
    return settings.home()


def cache_entries(root: Path | None = None) -> list[CacheEntry]:
    """Every entry of the cache, by name."""
    root = cache_root() if root is None else root
    paths = [root / name for name in FILES if os.path.lexists(root / name)]
    for folder in FOLDERS:
        try:
            paths += sorted((root / folder).iterdir())
        except (FileNotFoundError, NotADirectoryError):
            continue
    return [_entry(root, path) for path in paths]


def _entry(root: Path, path: Path) -> CacheEntry:
    top = path.lstat()
    files = list(_file_stats(path)) if stat.S_ISDIR(top.st_mode) else [top]
    last = max(max(item.st_atime, item.st_mtime) for item in [top, *files])
    return CacheEntry(path.relative_to(root).as_posix(), path, sum(item.st_size for item in files), last)


def _file_stats(folder: Path) -> Iterator[os.stat_result]:
    for parent, _, names in os.walk(folder):  # never follows symbolic links
        for name in names:
            try:
                yield os.lstat(os.path.join(parent, name))
            except OSError:  # removed meanwhile
                pass


def matching(entries: list[CacheEntry], pattern: str | None) -> list[CacheEntry]:
    """The entries a shell-style ``pattern`` names (``exports/*``, ``*openvino*``, or a folder such
    as ``onnx-int8`` for all of its entries); every entry when ``pattern`` is None."""
    if pattern is None:
        return list(entries)
    folder = pattern.rstrip("/")
    return [entry for entry in entries
            if fnmatch.fnmatchcase(entry.name, pattern) or entry.name.startswith(folder + "/")]


def remove(entries: list[CacheEntry]) -> int:
    """Delete ``entries``; returns the bytes freed."""
    freed = 0
    for entry in entries:
        if entry.path.is_dir() and not entry.path.is_symlink():
            shutil.rmtree(entry.path)
        else:
            entry.path.unlink(missing_ok=True)
        freed += entry.bytes
    return freed
