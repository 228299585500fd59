"""Files derived from a collection and kept beside the database: a matrix cache and the faiss index.

SQLite stays the source of truth. A derived file records the collection id and version it was
made from and is used only when they match the database, so a stale or half-written file is
never trusted. Files are written under a temporary name and renamed into place; builders hold an
advisory lock so two processes do not interleave an index with another one's note.

The matrix cache (``<db>.<collection>.vectors``) makes loading a large collection one sequential
read (``np.fromfile``) instead of a million row fetches through sqlite3.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

MAGIC = b"CLAPVEC1"
DERIVED_SUFFIXES = ("vectors", "faiss", "faiss.json", "faiss.lock")
HEADER_ALIGN = 64


def derived_path(db_path: Path, collection: str, suffix: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", collection)
    return db_path.with_name(f"{db_path.name}.{safe}.{suffix}")


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path.lock`` (no-op where fcntl is missing, or where the
    lock file cannot be created: a read-only directory, whose derived files can still be read)."""
    try:
        import fcntl
    except ImportError:  # Windows: renames are still atomic; only the race window stays
        yield
        return
    try:
        handle = open(path.with_name(path.name + ".lock"), "a")
    except OSError:  # a directory we cannot write: nobody else can build there either
        handle = None
    if handle is None:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def write_matrix_cache(path: Path, stamp: dict, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Header (magic, JSON stamp) then ids (int64) then vectors (float32), renamed into place."""
    header = json.dumps({**stamp, "count": int(len(ids)), "dim": int(vectors.shape[1])}).encode()
    pad = (-(len(MAGIC) + 8 + len(header))) % HEADER_ALIGN
    temp = temp_beside(path)
    try:
        with open(temp, "wb") as handle:
            handle.write(MAGIC + struct.pack("<Q", len(header) + pad) + header + b" " * pad)
            np.ascontiguousarray(ids, dtype="<i8").tofile(handle)
            np.ascontiguousarray(vectors, dtype="<f4").tofile(handle)
        os.replace(temp, path)
    except OSError:
        temp.unlink(missing_ok=True)  # a cache that cannot be written is simply not used


def read_matrix_cache(path: Path, stamp: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(ids, vectors) if the cache exists, is complete and was made from exactly ``stamp``."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                return None
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
            if any(header.get(key) != value for key, value in stamp.items()):
                return None
            count, dim = int(header["count"]), int(header["dim"])
            ids = np.fromfile(handle, dtype="<i8", count=count)
            vectors = np.fromfile(handle, dtype="<f4", count=count * dim)
    except (OSError, ValueError, KeyError, struct.error):
        return None
    if len(ids) != count or vectors.size != count * dim:
        return None  # truncated
    return ids.astype(np.int64, copy=False), vectors.reshape(count, dim)
