"""Embedding collections in one SQLite file: WAL, one transaction per batch, retries when busy.

Layout: ``collections`` (name, model id, dimension, created, version) and ``items`` (one row per
file: path unique within its collection, content hash, duration, model id, created time and the
L2-normalized float32 vector as a BLOB). ``version`` grows with every write so derived files
(the approximate index beside the db) know when they are stale.

The file format (recognising a library, read-only opening, migrations) lives in ``schema.py``.

Crash safety comes from SQLite itself: a batch is one ``BEGIN IMMEDIATE … COMMIT``; a killed
writer loses only its open transaction, and ``UNIQUE(collection_id, path)`` + upsert means a
rerun never duplicates a row.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from clapcli.errors import ClapcliError, InputError, UsageError
from clapcli.settings import DEFAULT_COLLECTION
from clapcli.store import schema
from clapcli.store.derived import DERIVED_SUFFIXES, derived_path, read_matrix_cache, write_matrix_cache

RETRY_ATTEMPTS = 8
HASH_CHUNK = 1 << 20
CACHE_MIN_ROWS = 50_000  # below this, reading from SQLite takes well under a second anyway

T = TypeVar("T")


def default_db_path() -> Path:
    """``$CLAPCLI_HOME/library.db`` (``CLAPCLI_HOME`` defaults to ``~/.cache/clapcli``)."""
    from clapcli import settings

    return settings.home() / "library.db"


def content_hash(path: str | Path) -> str:
    """blake2b-128 of the file's bytes, streamed (fast, flat memory)."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return digest.hexdigest()


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


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _retry(action: Callable[[], T], what: str) -> T:
    """Run ``action``, retrying with jittered backoff when another process holds the lock
    (the busy timeout already waited; this covers the cases SQLite reports without waiting).
    Other errors propagate unchanged, for the caller to name."""
    for attempt in range(RETRY_ATTEMPTS):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            if attempt == RETRY_ATTEMPTS - 1:
                raise ClapcliError(f"{what}: {exc}; another process may be holding the database") from None
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


class EmbeddingStore:
    """An open library database. Not shared across threads; open one per process."""

    def __init__(self, path: Path, connection: sqlite3.Connection, readonly: bool = False) -> None:
        self.path = path
        self.connection = connection
        self.readonly = readonly

    def __enter__(self) -> EmbeddingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` takes the write lock up front, so two writers
        queue on the busy timeout instead of failing on a read-to-write upgrade)."""
        if self.readonly:
            raise ClapcliError(f"--db {self.path} was opened read-only; this needs 'clap embed --db'")
        self._locked("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.rollback()
            raise
        self._locked("COMMIT")

    def _locked(self, statement: str) -> None:
        try:
            _retry(lambda: self.connection.execute(statement), f"--db {self.path}")
        except sqlite3.OperationalError as exc:  # e.g. a full disk or a read-only file
            raise ClapcliError(f"--db {self.path}: {exc}") from None

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same snapshot."""
        self.connection.execute("BEGIN")
        try:
            yield self.connection
        finally:
            self.connection.rollback()

    def collection_names(self) -> list[str]:
        return [r[0] for r in self.connection.execute("SELECT name FROM collections ORDER BY name")]

    def collection(
        self, name: str = DEFAULT_COLLECTION, model_id: str | None = None, dim: int | None = None, create: bool = True
    ) -> Collection:
        """The named collection; created when missing (if ``create`` and a model is given).
        Refuses a model or dimension other than the one the collection was built with."""
        found = self._find(name)
        if found is None:
            if not create or model_id is None or dim is None:
                known = ", ".join(self.collection_names()) or "none"
                raise UsageError(
                    f"--db {self.path} has no collection '{name}' (collections: {known}); "
                    f"fill it with 'clap embed FILES --db {self.path} --collection {name}'"
                )
            found = self._create(name, model_id, dim)
        if model_id is not None or dim is not None:
            found.check_model(model_id, dim)
        return found

    def _find(self, name: str) -> Collection | None:
        row = self.connection.execute(
            "SELECT id, name, model_id, dim, created FROM collections WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else Collection(self, *row)

    def _create(self, name: str, model_id: str, dim: int) -> Collection:
        with self.write() as db:
            # Another process may have created it between our look-up and the lock.
            db.execute(
                "INSERT INTO collections (name, model_id, dim, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO NOTHING",
                (name, model_id, int(dim), time.time()),
            )
        found = self._find(name)
        assert found is not None
        return found

    def delete_collection(self, name: str) -> int:
        """Drop a collection and its rows; returns how many rows went."""
        with self.write() as db:
            row = db.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
            if row is None:
                return 0
            count = db.execute("DELETE FROM items WHERE collection_id = ?", (row[0],)).rowcount
            db.execute("DELETE FROM collections WHERE id = ?", (row[0],))
        for suffix in DERIVED_SUFFIXES:  # never trusted once the id is gone; just reclaim the space
            derived_path(self.path, name, suffix).unlink(missing_ok=True)
        return count

    def integrity_check(self) -> str:
        return self.connection.execute("PRAGMA integrity_check").fetchone()[0]


class Collection:
    """Rows embedded with one model. Every write is one transaction and bumps ``version``."""

    def __init__(self, store: EmbeddingStore, id: int, name: str, model_id: str, dim: int, created: float):
        self.store = store
        self.id = id
        self.name = name
        self.model_id = model_id
        self.dim = dim
        self.created = created

    def check_model(self, model_id: str | None, dim: int | None) -> None:
        if (model_id is not None and model_id != self.model_id) or (dim is not None and dim != self.dim):
            other = f"'{model_id}'" if model_id is not None else "this model"
            raise UsageError(
                f"collection '{self.name}' in {self.store.path} was built with model '{self.model_id}' "
                f"({self.dim}-d), not {other}{f' ({dim}-d)' if dim is not None else ''}; "
                f"pass --model {self.model_id} or use another --collection"
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

    def prune(self, exists: Callable[[str], bool] = os.path.exists) -> list[str]:
        """Drop rows whose file no longer exists; returns their paths."""
        gone = [path for path in self.hashes() if not exists(path)]
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


def open_store(path: str | Path | None = None, create: bool = True, readonly: bool = False) -> EmbeddingStore:
    """Open the library at ``path`` (default: ``default_db_path()``).

    A writer (the default) creates the file when ``create``, and brings it up to the current
    schema. With ``readonly`` (searching, listing) nothing is created, migrated or written: a
    file that is not a clapcli library is refused and left exactly as it was."""
    path = Path(path).expanduser() if path is not None else default_db_path()
    if not path.exists():
        if not create or readonly:
            raise UsageError(f"--db {path} does not exist; create it with 'clap embed FILES --db {path}'")
        path.parent.mkdir(parents=True, exist_ok=True)
    elif path.is_dir():
        raise UsageError(f"--db {path} is a directory; give a database file name")
    try:
        if readonly:
            return EmbeddingStore(path, _retry(lambda: schema.open_reader(path), f"--db {path}"), readonly=True)
        connection = _retry(lambda: schema.open_writer(path), f"--db {path}")
    except sqlite3.DatabaseError as exc:
        raise ClapcliError(f"--db {path}: cannot open ({exc})") from None
    try:
        _retry(lambda: schema.migrate(connection, path), f"--db {path}")
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise ClapcliError(f"--db {path}: cannot bring it up to date ({exc})") from None
    except BaseException:
        connection.close()
        raise
    return EmbeddingStore(path, connection)
