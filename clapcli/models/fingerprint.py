"""Content fingerprints of model files, for keying what clapcli derives from them (exports cached under
``$CLAPCLI_HOME``, int8 copies, OpenVINO's compiled towers).

A modification time alone is no key: ``cp -p``, ``rsync -a`` and unpacking an archive all give new
weights an old time. So files are keyed on a SHA-256 of their bytes, computed once and remembered
in ``$CLAPCLI_HOME/file-hashes.json`` by path, size, modification time, inode and change time: any
rewrite changes the inode or the change time (which no user tool sets back), so a remembered hash
is reused only for the very same bytes, and a full-size model is hashed once (about 1 s per GB),
not on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from clapcli import settings

MEMO_NAME = "file-hashes.json"
MEMO_LIMIT = 5000  # entries kept; those of vanished files go first
BLOCK = 1 << 20

_memo: dict[Path, dict[str, dict]] = {}  # per memo file: tests (and callers) may change CLAPCLI_HOME


def file_digest(path: Path) -> str:
    """SHA-256 (hex) of ``path``'s bytes (a symbolic link: of its target), from the memo when unchanged."""
    real = os.path.realpath(path)
    stamp = _stamp(real)
    memo = _load()
    entry = memo.get(real)
    if isinstance(entry, dict) and entry.get("stat") == stamp and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = _sha256(Path(real))
    if _stamp(real) == stamp:  # not rewritten while it was read: safe to remember
        memo[real] = {"stat": stamp, "sha256": digest}
        _save(memo)
    return digest


def path_digest(path: Path) -> str:
    """A file's digest, or a directory's: of the names and digests of the regular files directly in it
    (a Hugging Face checkpoint is flat; hidden files are not the model's)."""
    if not path.is_dir():
        return file_digest(path)
    files = sorted(p for p in path.iterdir() if not p.name.startswith(".") and p.is_file())
    return combined((p.name, file_digest(p)) for p in files)


def combined(parts: Iterable[tuple[str, str]]) -> str:
    """One digest of (name, digest) pairs."""
    whole = hashlib.sha256()
    for name, digest in parts:
        whole.update(f"{name}\0{digest}\n".encode())
    return whole.hexdigest()


def _stamp(real: str) -> list[int]:
    info = os.stat(real)
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev, info.st_ctime_ns]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def forget_memo() -> None:
    """Drop the in-process copy of the memo (read again from disk on next use)."""
    _memo.clear()


def _memo_path() -> Path:
    return settings.home() / MEMO_NAME


def _load() -> dict[str, dict]:
    path = _memo_path()
    if path not in _memo:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        _memo[path] = data if isinstance(data, dict) else {}
    return _memo[path]


def _save(memo: dict[str, dict]) -> None:
    """Write the memo atomically; a home that cannot be written only means hashing again next time."""
    if len(memo) > MEMO_LIMIT:
        for key in [key for key in memo if not os.path.exists(key)] or list(memo)[: len(memo) - MEMO_LIMIT]:
            memo.pop(key, None)
    path = _memo_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{MEMO_NAME}.", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(memo, handle)
        os.replace(temp, path)  # concurrent runs: the last one wins, and a lost entry is only hashed again
    except OSError:
        Path(temp).unlink(missing_ok=True)
