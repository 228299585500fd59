"""One collection of a library: rows embedded with one model (upsert, prune, load as a matrix)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from clapcli.errors import ClapcliError, InputError, InvalidField, UsageError
from clapcli.store.derived import derived_path, read_matrix_cache, write_matrix_cache


class StoreHandle(Protocol):
    """What a collection needs of its open library (``sqlite.EmbeddingStore``)."""

    path: Path
    connection: sqlite3.Connection

    def write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def read(self) -> AbstractContextManager[sqlite3.Connection]: ...

CACHE_MIN_ROWS = 50_000  # below this, reading from SQLite takes well under a second anyway


@dataclass(frozen=True)
class ItemRow:
    """One file's embedding as the store keeps it."""

    path: str
    hash: str
    vector: np.ndarray
    duration: float | None = None


@dataclass(frozen=True)
class StoredMatrix:
    """A collection loaded in one snapshot: row ``i`` of ``vectors`` belongs to item ``ids[i]``."""

    ids: np.ndarray  # (n,) int64
    vectors: np.ndarray  # (n, dim) float32, C-contiguous, rows L2-normalized
    version: int


class Collection:
    """Rows embedded with one model. Every write is one transaction and bumps ``version``."""

    def __init__(self, store: StoreHandle, id: int, name: str, model_id: str, dim: int, created: float):
        self.store = store
        self.id = id
        self.name = name
        self.model_id = model_id
        self.dim = dim
        self.created = created

    def check_model(self, model_id: str | None, dim: int | None) -> None:
        if (model_id is not None and model_id != self.model_id) or (dim is not None and dim != self.dim):
            other = f"'{model_id}'" if model_id is not None else "this model"
            raise InvalidField(
                "model", "collection '{name}' in {path} was built with model '{built}' ({built_dim}-d), not "
                "{other}{dims}; pass {model} {built} or use another {collection}", name=self.name,
                path=self.store.path, built=self.model_id, built_dim=self.dim, other=other,
                dims=f" ({dim}-d)" if dim is not None else "",
            )

    @property
    def _db(self) -> sqlite3.Connection:
        return self.store.connection

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM items WHERE collection_id = ?", (self.id,)).fetchone()[0]

    def version(self) -> int:
        row = self._db.execute("SELECT version FROM collections WHERE id = ?", (self.id,)).fetchone()
        if row is None:
            raise UsageError(f"collection '{self.name}' was deleted from {self.store.path} meanwhile")
        return row[0]

    def hashes(self) -> dict[str, str]:
        """path -> content hash of every row (to skip unchanged files)."""
        return dict(self._db.execute("SELECT path, hash FROM items WHERE collection_id = ?", (self.id,)))

    def hashes_for(self, paths: Sequence[str]) -> dict[str, str]:
        """path -> content hash for those of ``paths`` that are stored."""
        found: dict[str, str] = {}
        for start in range(0, len(paths), 500):
            chunk = list(paths[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(
                f"SELECT path, hash FROM items WHERE collection_id = ? AND path IN ({marks})", (self.id, *chunk)))
        return found

    def needs_embedding(self, path: str, file_hash: str) -> bool:
        row = self._db.execute(
            "SELECT hash FROM items WHERE collection_id = ? AND path = ?", (self.id, path)
        ).fetchone()
        return row is None or row[0] != file_hash

    def upsert(self, rows: Sequence[ItemRow]) -> int:
        """Insert or replace rows (by path) in one transaction; vectors are stored L2-normalized."""
        if not rows:
            return 0
        now = time.time()
        params = [
            (self.id, row.path, row.hash, row.duration, self.model_id, now, self._blob(row))
            for row in rows
        ]
        with self.store.write() as db:
            db.executemany(
                "INSERT INTO items (collection_id, path, hash, duration, model_id, created, vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(collection_id, path) DO UPDATE SET "
                "hash = excluded.hash, duration = excluded.duration, model_id = excluded.model_id, "
                "created = excluded.created, vector = excluded.vector",
                params,
            )
            self._bump(db)
        return len(rows)

    def _blob(self, row: ItemRow) -> bytes:
        vector = np.asarray(row.vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise InputError(
                f"{row.path}: embedding has {vector.shape[0]} values but collection '{self.name}' holds {self.dim}-d"
            )
        norm = float(np.linalg.norm(vector))
        if not np.isfinite(norm) or norm == 0.0:
            raise InputError(f"{row.path}: embedding is zero or not finite; not stored")
        return (vector / norm).astype("<f4").tobytes()

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute("UPDATE collections SET version = version + 1 WHERE id = ?", (self.id,))

    def delete_paths(self, paths: Sequence[str]) -> int:
        if not paths:
            return 0
        with self.store.write() as db:
            deleted = 0
            for start in range(0, len(paths), 500):
                chunk = list(paths[start : start + 500])
                marks = ",".join("?" * len(chunk))
                deleted += db.execute(
                    f"DELETE FROM items WHERE collection_id = ? AND path IN ({marks})", (self.id, *chunk)
                ).rowcount
            self._bump(db)
        return deleted

    def prune(self, exists: Callable[[str], bool] = os.path.exists, dry_run: bool = False) -> list[str]:
        """Drop rows whose file no longer exists (``dry_run``: only find them); returns their paths."""
        if self.segments() is not None:  # segment rows: their file is ``source``, not the ``path#t=`` name
            files = {source for (source,) in self._db.execute(
                "SELECT DISTINCT source FROM items WHERE collection_id = ?", (self.id,))}
            gone = sorted(source for source in files if not exists(source))
            if not dry_run:
                with self.store.write() as db:
                    for source in gone:
                        db.execute("DELETE FROM items WHERE collection_id = ? AND source = ?", (self.id, source))
                    self._bump(db)
            return gone
        gone = [path for path in self.hashes() if not exists(path)]
        if not dry_run:
            self.delete_paths(gone)
        return gone

    def stamp(self) -> dict:
        """What a derived file must match to be used: this collection at its current version."""
        return {"collection_id": self.id, "version": self.version(), "model_id": self.model_id}

    def load_matrix(self, chunk_rows: int = 8192, cache: bool = True) -> StoredMatrix:
        """All vectors as one contiguous float32 array, read in one snapshot. Large collections
        keep a matrix cache beside the db (one sequential read instead of a row per vector)."""
        path = derived_path(self.store.path, self.name, "vectors")
        if cache:
            stamp = self.stamp()
            cached = read_matrix_cache(path, stamp)
            if cached is not None:
                return StoredMatrix(cached[0], cached[1], stamp["version"])
        stored = self._load_from_db(chunk_rows)
        if cache and len(stored.ids) >= CACHE_MIN_ROWS:
            write_matrix_cache(path, {**self.stamp(), "version": stored.version}, stored.ids, stored.vectors)
        return stored

    def _load_from_db(self, chunk_rows: int) -> StoredMatrix:
        with self.store.read() as db:
            version = self.version()
            count = self.count()
            ids = np.empty(count, dtype=np.int64)
            vectors = np.empty((count, self.dim), dtype=np.float32)
            cursor = db.execute(self._scan_sql(count), (self.id,))
            filled = 0
            while batch := cursor.fetchmany(chunk_rows):
                end = filled + len(batch)
                ids[filled:end] = [row[0] for row in batch]
                vectors[filled:end] = self._decode([row[1] for row in batch])
                filled = end
        if filled != count:
            raise ClapcliError(f"--db {self.store.path}: collection '{self.name}' changed while loading; retry")
        return StoredMatrix(ids, vectors, version)

    def _scan_sql(self, count: int) -> str:
        # Reading the table in rowid order is sequential I/O; the (collection, path) index would
        # turn a big collection into random reads. Use the index only for a small share of the table.
        total = self._db.execute("SELECT count(*) FROM items").fetchone()[0]
        hint = "NOT INDEXED " if count * 4 >= total else ""
        return f"SELECT id, vector FROM items {hint}WHERE collection_id = ?"

    def _decode(self, blobs: list[bytes]) -> np.ndarray:
        joined = b"".join(blobs)
        if len(joined) != len(blobs) * self.dim * 4:
            raise ClapcliError(
                f"--db {self.store.path}: collection '{self.name}' holds a vector that is not {self.dim}-d; "
                "the database was written by something else"
            )
        return np.frombuffer(joined, dtype="<f4").reshape(len(blobs), self.dim)

    def paths(self, ids: Sequence[int]) -> dict[int, str]:
        """item id -> path, for the few ids a search returns."""
        found: dict[int, str] = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(f"SELECT id, path FROM items WHERE id IN ({marks})", chunk))
        return found

    def vector_for(self, path: str) -> np.ndarray | None:
        row = self._db.execute(
            "SELECT vector FROM items WHERE collection_id = ? AND path = ?", (self.id, path)
        ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype="<f4").copy()

    # ---------------------------------------------------------------- segment collections (schema v2)

    def segments(self) -> tuple[float, float] | None:
        """(window, hop) seconds of a segment collection (one row per window); None: one row per file
        (and for libraries older than segment collections)."""
        try:
            row = self._db.execute("SELECT segment_seconds, hop_seconds FROM collections WHERE id = ?",
                                   (self.id,)).fetchone()
        except sqlite3.OperationalError:  # a version-1 library opened read-only: no segment columns
            return None
        return None if row is None or row[0] is None else (float(row[0]), float(row[1]))

    def set_segments(self, window: float | None, hop: float | None) -> None:
        """Make a new, empty collection per-segment (``window`` seconds every ``hop``); refuse a
        collection whose kind or windows differ."""
        current = self.segments()
        wanted = None if window is None else (float(window), float(hop if hop is not None else window))
        if current == wanted:
            return
        if self.count() == 0:
            with self.store.write() as db:
                db.execute("UPDATE collections SET segment_seconds = ?, hop_seconds = ? WHERE id = ?",
                           (None if wanted is None else wanted[0], None if wanted is None else wanted[1], self.id))
            return
        held = "one vector per file" if current is None else f"segments of {current[0]:g} s every {current[1]:g} s"
        asked = "one vector per file" if wanted is None else f"segments of {wanted[0]:g} s every {wanted[1]:g} s"
        raise InvalidField("segments", "collection '{name}' in {path} holds {held}, not {asked}; use another "
                           "{collection} (or the same {segments}/{hop})", name=self.name, path=self.store.path,
                           held=held, asked=asked)

    def source_hashes(self) -> dict[str, str]:
        """file -> content hash, for the files of a segment collection."""
        return dict(self._db.execute("SELECT source, hash FROM items WHERE collection_id = ? AND source IS NOT NULL "
                                     "GROUP BY source", (self.id,)))

    def replace_segments(self, source: str, file_hash: str, duration: float | None,
                         windows: Sequence[tuple[float, float, np.ndarray]]) -> int:
        """All windows (start, end, vector) of one file, replacing its old ones, in one transaction
        (a crash leaves the file's old rows or its new ones, never a mix)."""
        now = time.time()
        params = [(self.id, f"{source}#t={start:.3f},{end:.3f}", file_hash, duration, self.model_id, now,
                   self._blob(ItemRow(source, file_hash, vector)), source, float(start), float(end))
                  for start, end, vector in windows]
        with self.store.write() as db:
            db.execute("DELETE FROM items WHERE collection_id = ? AND source = ?", (self.id, source))
            db.executemany(
                'INSERT INTO items (collection_id, path, hash, duration, model_id, created, vector, source, "start", '
                '"end") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', params)
            self._bump(db)
        return len(params)

    def times(self, ids: Sequence[int]) -> dict[int, tuple[str, float, float]]:
        """item id -> (file, start, end) for the segment rows among ``ids``."""
        found: dict[int, tuple[str, float, float]] = {}
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for item, source, begin, end in self._db.execute(
                    f'SELECT id, source, "start", "end" FROM items WHERE id IN ({marks}) AND source IS NOT NULL',
                    chunk):
                found[item] = (source, float(begin), float(end))
        return found
