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
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from clapcli.errors import ClapcliError, InputError, InvalidField
from clapcli.settings import DEFAULT_COLLECTION
from clapcli.store import schema
from clapcli.store.collection import Collection
from clapcli.store.derived import DERIVED_SUFFIXES, derived_path
from clapcli.store.location import default_db_path
from clapcli.store.locking import retry

HASH_CHUNK = 1 << 20

T = TypeVar("T")


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
            retry(lambda: self.connection.execute(statement), f"--db {self.path}")
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
                raise InvalidField(
                    "collection", "{db} {path} has no collection '{name}' (collections: {known}); fill it with "
                    "'clap embed FILES --db {path} --collection {name}'", path=self.path, name=name, known=known,
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


def open_store(path: str | Path | None = None, create: bool = True, readonly: bool = False) -> EmbeddingStore:
    """Open the library at ``path`` (default: ``default_db_path()``).

    A writer (the default) creates the file when ``create``, and brings it up to the current
    schema. With ``readonly`` (searching, listing) nothing is created, migrated or written: a
    file that is not a clapcli library is refused and left exactly as it was."""
    path = Path(path).expanduser() if path is not None else default_db_path()
    if not path.exists():
        if not create or readonly:
            raise InvalidField("db", "{db} {path} does not exist; create it with 'clap embed FILES --db {path}'",
                               path=path)
        path.parent.mkdir(parents=True, exist_ok=True)
    elif path.is_dir():
        raise InvalidField("db", "{db} {path} is a directory; give a database file name", path=path)
    try:
        if readonly:
            return EmbeddingStore(path, retry(lambda: schema.open_reader(path), f"--db {path}"), readonly=True)
        connection = retry(lambda: schema.open_writer(path), f"--db {path}")
    except sqlite3.DatabaseError as exc:
        raise ClapcliError(f"--db {path}: cannot open ({exc})") from None
    try:
        retry(lambda: schema.migrate(connection, path), f"--db {path}")
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise ClapcliError(f"--db {path}: cannot bring it up to date ({exc})") from None
    except BaseException:
        connection.close()
        raise
    return EmbeddingStore(path, connection)
