"""clapcli's cache: the files it derives and can rebuild (``settings.home()``), listed and removed.

Only what clapcli itself writes there is ever listed or removed: each export, compiled tower,
int8 copy and converted checkpoint (one entry per folder in ``exports/``, ``openvino-cache/``,
``onnx-int8/`` and ``converted/``) and ``file-hashes.json``. Anything else (the default library
when ``CLAPCLI_HOME`` holds it, files the user put there) is never touched. Symbolic links are
removed as links; nothing they point to is followed.

The Hugging Face hub cache is listed too, as ``hub/OWNER/NAME`` entries, for the models clapcli serves
(a checkpoint whose cached config is of a family clapcli knows, or an alias's target); removing one goes
through huggingface_hub's own deletion (as ``hf cache delete``), never a plain rmtree of its folders.
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
    return [_entry(root, path) for path in paths] + hub_entries()


HUB = "hub/"


def hub_entries() -> list[CacheEntry]:
    """The hub cache's model repositories that are clapcli's models, as ``hub/OWNER/NAME`` entries."""
    try:
        from huggingface_hub import constants, scan_cache_dir
        from huggingface_hub.errors import CacheNotFound

        info = scan_cache_dir(constants.HF_HUB_CACHE)  # read now (HF_HUB_CACHE as set for this run)
    except (ImportError, CacheNotFound, OSError, ValueError):
        return []
    return [CacheEntry(HUB + repo.repo_id, repo.repo_path, repo.size_on_disk,
                       max(repo.last_accessed, repo.last_modified))
            for repo in sorted(info.repos, key=lambda r: r.repo_id)
            if repo.repo_type == "model" and _clapcli_model(repo)]


def _clapcli_model(repo) -> bool:  # noqa: ANN001 - huggingface_hub's CachedRepoInfo
    import json

    from clapcli.models import registry

    known = {*registry.EMBEDDING_ALIASES.values(), *registry.GENERATION_ALIASES.values(),
             *settings.user_aliases().values()}
    if repo.repo_id in known:
        return True
    for revision in repo.revisions:
        for name in ("config.json", "model_index.json"):
            path = revision.snapshot_path / name
            try:
                if registry.family_from_config(json.loads(_read_keeping_atime(path))):
                    return True
            except (OSError, ValueError, AttributeError):
                continue
    return False


def _read_keeping_atime(path: Path) -> str:
    """A file's text without marking it used: the hub's "last used" is its files' access time, so a look at
    config.json to learn the family would make ``clap cache prune`` think every model was used today."""
    flags = os.O_RDONLY | getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:  # O_NOATIME needs the file's owner
        fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode("utf-8")


def older_than(entries: list[CacheEntry], days: float, now: float) -> list[CacheEntry]:
    """The entries not used for ``days`` days (``clap cache prune``)."""
    return [entry for entry in entries if now - entry.last_used > days * 86400]


def _entry(root: Path, path: Path) -> CacheEntry:
    top = path.lstat()
    files = list(_file_stats(path)) if stat.S_ISDIR(top.st_mode) else [top]
    # A folder's access time changes whenever it is listed (this very listing included): its files' say.
    last = max([top.st_mtime, *(max(item.st_atime, item.st_mtime) for item in files)])
    if not stat.S_ISDIR(top.st_mode):
        last = max(top.st_atime, top.st_mtime)
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
    if pattern is None:  # --all: what clapcli derived, not the models you downloaded (name those)
        return [entry for entry in entries if not entry.name.startswith(HUB)]
    folder = pattern.rstrip("/")
    return [entry for entry in entries
            if fnmatch.fnmatchcase(entry.name, pattern) or entry.name.startswith(folder + "/")]


def remove(entries: list[CacheEntry]) -> int:
    """Delete ``entries``; returns the bytes freed."""
    freed = 0
    hub = [entry for entry in entries if entry.name.startswith(HUB)]
    if hub:
        freed += _remove_hub(hub)
    for entry in entries:
        if entry.name.startswith(HUB):
            continue
        if entry.path.is_dir() and not entry.path.is_symlink():
            shutil.rmtree(entry.path)
        else:
            entry.path.unlink(missing_ok=True)
        freed += entry.bytes
    return freed


def _remove_hub(entries: list[CacheEntry]) -> int:
    from huggingface_hub import constants, scan_cache_dir

    wanted = {entry.name[len(HUB):] for entry in entries}
    info = scan_cache_dir(constants.HF_HUB_CACHE)
    revisions = [rev.commit_hash for repo in info.repos if repo.repo_type == "model" and repo.repo_id in wanted
                 for rev in repo.revisions]
    strategy = info.delete_revisions(*revisions)
    strategy.execute()
    return int(strategy.expected_freed_size)
