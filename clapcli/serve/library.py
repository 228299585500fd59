"""The served library in memory: each collection's matrix, paths and durations, re-read on change.

The database is opened read-only, only to (re)load: a snapshot per collection holds everything a
request needs, so requests never touch SQLite. ``refresh`` looks at the db and its WAL file (at most
every ``check_interval`` seconds); when they changed, each collection's ``version`` is read and
only the collections that changed are loaded again (another ``clap embed --db`` adding files while
the server runs). A request keeps the snapshot it started with; the swap is one assignment.

Audio is served only for rows of the library: by item id, never by a path from the request. The
file opened is the row's file with links resolved, and it must still lie in one of the folders the
library recorded (so a file replaced by a link to ``/etc/passwd`` is refused), be an audio file, and
hold the bytes the library embedded: its content hash must equal the row's. A hard link keeps the
path inside the folders whatever file it reaches, so only the content can tell. The file is hashed
the first time it is served and again whenever its identity (device, inode, size, modification and
change times) differs from the one last verified.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.errors import ClapcliError, UsageError
from clapcli.media.kinds import AUDIO_EXTENSIONS
from clapcli.store.sqlite import content_hash

CHECK_INTERVAL = 1.0  # seconds between looks at the db's modification time


@dataclass(frozen=True)
class Item:
    id: int
    path: str
    duration: float | None
    hash: str = ""  # the content hash 'clap embed' recorded for the file
    start: float | None = None  # segment collections: where the hit starts in the file
    end: float | None = None
    source: str | None = None  # segment collections: the file (``path`` is ``source#t=start,end``)

    @property
    def file(self) -> str:
        """The file on disk this row was embedded from."""
        return self.source or self.path


@dataclass
class Snapshot:
    """One collection as loaded: row ``i`` of ``vectors`` is item ``ids[i]``."""

    name: str
    model_id: str
    dim: int
    version: int
    ids: np.ndarray
    vectors: np.ndarray
    items: dict[int, Item]
    row_of: dict[int, int]
    folders: frozenset[str]  # resolved folders of the recorded paths: where served files may live
    index: Any = None  # the faiss index with --approximate
    segmented: bool = False  # one row per window of a file (clap embed --segments)
    root: str = ""  # the common folder of the recorded files: paths are shown relative to it
    loaded_at: float = field(default_factory=time.time)

    @property
    def count(self) -> int:
        return len(self.ids)

    def relative(self, file: str) -> str:
        """``file`` relative to the library root (the file name alone when there is no root)."""
        if not self.root:
            return Path(file).name
        return os.path.relpath(file, self.root)

    def vector(self, item_id: int) -> np.ndarray:
        return self.vectors[self.row_of[item_id]]


class LibraryState:
    """Snapshots of every collection of ``db``; ``refresh()`` re-reads those that changed on disk."""

    def __init__(self, db: Path, approximate: bool = False, check_interval: float = CHECK_INTERVAL) -> None:
        self.db = Path(db).expanduser()
        self.approximate = approximate
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._snapshots: dict[str, Snapshot] = {}
        self._signature: tuple | None = None
        self._checked = 0.0
        self.reloads = 0  # times a collection was (re)loaded (the tests read it)
        self._verified: dict[str, tuple] = {}  # resolved path -> (identity, hash) of its last hashing
        self.refresh(force=True)

    # ----------------------------------------------------------------- reading

    def names(self) -> list[str]:
        self.refresh()
        return sorted(self._snapshots)

    def snapshot(self, name: str) -> Snapshot:
        self.refresh()
        found = self._snapshots.get(name)
        if found is None:
            known = ", ".join(sorted(self._snapshots)) or "none"
            raise LookupError(f"no collection '{name}' in {self.db} (collections: {known})")
        return found

    def snapshots(self) -> list[Snapshot]:
        self.refresh()
        return [self._snapshots[name] for name in sorted(self._snapshots)]

    def audio_file(self, name: str, item_id: int) -> tuple[Path, Item]:
        """The file to stream for a row, or ``LookupError`` / ``PermissionError`` (one line each)."""
        snapshot = self.snapshot(name)
        item = snapshot.items.get(item_id)
        if item is None:
            raise LookupError(f"collection '{name}' has no item {item_id}")
        real = os.path.realpath(item.file)
        if not os.path.isfile(real):
            raise LookupError(f"item {item_id} ({item.path}) is no longer on disk; run 'clap embed --db {self.db} "
                              "--prune'")
        if os.path.dirname(real) not in snapshot.folders or Path(real).suffix.lower() not in AUDIO_EXTENSIONS:
            raise PermissionError(f"item {item_id} ({item.path}) now points outside the library's folders; "
                                  "not served")
        if self._current_hash(real) != item.hash:
            raise PermissionError(f"item {item_id} ({item.path}) is not the file the library embedded (its content "
                                  f"changed); not served; run 'clap embed --db {self.db}' to index it again")
        return Path(real), item

    def _current_hash(self, real: str) -> str:
        """The file's content hash, recomputed only when its identity changed since last time."""
        stat = os.stat(real)
        identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        known = self._verified.get(real)
        if known is not None and known[0] == identity:
            return known[1]
        digest = content_hash(real)
        self._verified[real] = (identity, digest)
        return digest

    # ----------------------------------------------------------------- loading

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.check_interval:
            return
        with self._lock:
            if not force and now - self._checked < self.check_interval:
                return
            self._checked = now
            signature = self._disk_signature()
            if not force and signature == self._signature:
                return
            self._reload()
            self._signature = signature

    def _disk_signature(self) -> tuple:
        return disk_signature(self.db)

    def _reload(self) -> None:
        from clapcli.store import open_store

        with open_store(self.db, readonly=True) as store:
            fresh: dict[str, Snapshot] = {}
            for name in store.collection_names():
                collection = store.collection(name, create=False)
                old = self._snapshots.get(name)
                if old is not None and old.version == collection.version() and old.model_id == collection.model_id:
                    fresh[name] = old
                    continue
                fresh[name] = self._load(collection)
                self.reloads += 1
        self._snapshots = fresh  # one assignment: requests see the old or the new set, never half

    def _load(self, collection: Any) -> Snapshot:
        stored = collection.load_matrix()
        items = _read_items(collection)
        missing = [int(i) for i in stored.ids.tolist() if int(i) not in items]
        if missing:  # written between the two reads: the next refresh sees the new version
            items.update(_read_items(collection))
        folders = frozenset(os.path.realpath(os.path.dirname(item.file)) for item in items.values())
        index = None
        if self.approximate and len(stored.ids):
            from clapcli.core.search import load_or_build_index

            try:
                index = load_or_build_index(collection)
            except ClapcliError:
                raise
            except Exception as exc:  # faiss errors are RuntimeErrors without a user-facing message
                raise UsageError(f"--approximate: cannot build the index of '{collection.name}' ({exc})") from None
        return Snapshot(
            name=collection.name, model_id=collection.model_id, dim=collection.dim, version=stored.version,
            ids=stored.ids, vectors=stored.vectors, items=items,
            row_of={int(i): row for row, i in enumerate(stored.ids.tolist())}, folders=folders, index=index,
            segmented=collection.segments() is not None, root=_root(items.values()),
        )


def disk_signature(db: Path) -> tuple:
    """What the library file and its WAL look like now (modification time and size of each)."""
    parts = []
    for suffix in ("", "-wal"):
        try:
            stat = os.stat(f"{db}{suffix}")
            parts.append((stat.st_mtime_ns, stat.st_size))
        except OSError:
            parts.append(None)
    return tuple(parts)


def _root(items: Any) -> str:
    """The deepest folder holding every recorded file ('' when there is none, e.g. files on two drives)."""
    folders = {os.path.dirname(os.path.abspath(item.file)) for item in items}
    try:
        return os.path.commonpath(sorted(folders)) if folders else ""
    except ValueError:
        return ""


def _read_items(collection: Any) -> dict[int, Item]:
    """id -> Item for every row (paths, durations, and segment times when the schema has them)."""
    db = collection.store.connection
    columns = {row[1] for row in db.execute("PRAGMA table_info(items)")}
    segment = {"start", "end", "source"} <= columns
    extra = ', "start", "end", source' if segment else ""
    rows = db.execute(f"SELECT id, path, duration, hash{extra} FROM items WHERE collection_id = ?", (collection.id,))
    found = {}
    for row in rows:
        start, end, source = (row[4], row[5], row[6]) if segment else (None, None, None)
        found[int(row[0])] = Item(int(row[0]), row[1], row[2], row[3], start, end, source)
    return found
