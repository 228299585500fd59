"""The library file itself: how a clapcli library is recognised, opened and migrated.

A library carries ``PRAGMA application_id = APPLICATION_ID`` (ASCII "CLAP") and
``PRAGMA user_version`` = the number of migrations applied. ``MIGRATIONS[i]`` brings a library
from version ``i`` to ``i + 1``; a writer applies the missing ones in one write transaction when it
opens, so a library made today opens after the schema grows. Libraries written before the
application_id existed (version 1, our two tables, id 0) are recognised by their tables and stamped
on their next write.

Reading never changes the file: readers look at the header with a plain ``open``, inspect the
database through an ``immutable=1`` connection (which creates no ``-wal``/``-shm``) before
anything else, refuse what is not ours, and read through ``mode=ro``. In a directory they cannot
write (where ``mode=ro`` cannot create the ``-shm``), they read with ``immutable=1`` when no writer
is active (no ``-wal``), as nobody can then change the file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from clapcli.errors import ClapcliError, InvalidField

APPLICATION_ID = 0x434C4150  # b"CLAP"
SQLITE_MAGIC = b"SQLite format 3\x00"
OUR_TABLES = frozenset({"collections", "items"})
# Large pages: a 512-d row (~2.2 kB) would waste half of a 4 kB page; 32 kB pages hold ~15.
PAGE_SIZE = 32768
BUSY_TIMEOUT_S = 30.0


def _v1_collections_and_items(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE IF NOT EXISTS collections (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            model_id TEXT NOT NULL,
            dim INTEGER NOT NULL CHECK (dim > 0),
            created REAL NOT NULL,
            version INTEGER NOT NULL DEFAULT 0
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS items (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            hash TEXT NOT NULL,
            duration REAL,
            model_id TEXT NOT NULL,
            created REAL NOT NULL,
            vector BLOB NOT NULL,
            UNIQUE (collection_id, path)
        )""")


def _v2_segment_times(db: sqlite3.Connection) -> None:
    """Segment collections (``clap embed --segments``): one row per window of a file. A collection's
    ``segment_seconds``/``hop_seconds`` are NULL for one vector per file; a segment row keeps its file
    in ``source``, its window in ``"start"``..``"end"`` seconds, and ``path`` = ``source#t=start,end``."""
    db.execute("ALTER TABLE collections ADD COLUMN segment_seconds REAL")
    db.execute("ALTER TABLE collections ADD COLUMN hop_seconds REAL")
    db.execute("ALTER TABLE items ADD COLUMN source TEXT")
    db.execute('ALTER TABLE items ADD COLUMN "start" REAL')
    db.execute('ALTER TABLE items ADD COLUMN "end" REAL')
    db.execute("CREATE INDEX IF NOT EXISTS items_source ON items (collection_id, source) WHERE source IS NOT NULL")


def _v3_tags(db: sqlite3.Connection) -> None:
    """Zero-shot tag scores (``clap tag``): ``tag_sets`` holds a collection's labels (JSON list), prompt
    template and the model that scored them; ``tags`` one score per item and label. Triggers drop an item's
    tags when its vector changes or the item goes, so a tag always describes the vector it was scored from
    (a re-embedded file is tagged again by the next ``clap tag``)."""
    db.execute("""
        CREATE TABLE IF NOT EXISTS tag_sets (
            collection_id INTEGER PRIMARY KEY REFERENCES collections(id) ON DELETE CASCADE,
            labels TEXT NOT NULL,
            template TEXT NOT NULL,
            model_id TEXT NOT NULL,
            created REAL NOT NULL
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS tags (
            item_id INTEGER NOT NULL,
            label TEXT NOT NULL,
            score REAL NOT NULL,
            PRIMARY KEY (item_id, label)
        ) WITHOUT ROWID""")
    db.execute("CREATE INDEX IF NOT EXISTS tags_label ON tags (label, score)")
    db.execute("""CREATE TRIGGER IF NOT EXISTS items_vector_changed AFTER UPDATE OF vector ON items
                  BEGIN DELETE FROM tags WHERE item_id = NEW.id; END""")
    db.execute("""CREATE TRIGGER IF NOT EXISTS items_deleted AFTER DELETE ON items
                  BEGIN DELETE FROM tags WHERE item_id = OLD.id; END""")
    db.execute("""CREATE TRIGGER IF NOT EXISTS collections_deleted AFTER DELETE ON collections
                  BEGIN DELETE FROM tag_sets WHERE collection_id = OLD.id; END""")


Migration = Callable[[sqlite3.Connection], None]
# Append only: never edit or reorder a released step (libraries record how many they have had).
MIGRATIONS: list[Migration] = [_v1_collections_and_items, _v2_segment_times, _v3_tags]
# The oldest version this code can read as it is; older ones must be upgraded by a writer first.
READABLE_FROM = 1


def schema_version() -> int:
    """The version this code writes: one per migration (read at call time, so tests can append)."""
    return len(MIGRATIONS)


@dataclass(frozen=True)
class Found:
    """What a database says about itself."""

    application_id: int
    user_version: int
    tables: frozenset[str]

    @property
    def empty(self) -> bool:
        return self.application_id == 0 and self.user_version == 0 and not self.tables

    def foreign_reason(self) -> str | None:
        """Why this is not a clapcli library (None: it is one, or an empty database)."""
        if self.application_id == APPLICATION_ID or self.empty:
            return None
        if self.application_id != 0:
            return f"its application_id is 0x{self.application_id:08x}, another program's"
        if self.user_version >= 1 and OUR_TABLES <= self.tables:
            return None  # written before the application_id existed
        names = ", ".join(sorted(self.tables)[:5]) or "none"
        return f"tables: {names}"


def inspect(connection: sqlite3.Connection) -> Found:
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    user_version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = frozenset(r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    return Found(application_id, user_version, tables)


def not_a_library(path: Path, reason: str) -> InvalidField:
    return InvalidField("db", "{db} {path} is not a clapcli library ({reason}); left unchanged, give another {db}",
                        path=path, reason=reason)


def check_header(path: Path) -> None:
    """Refuse a file that is not SQLite at all, reading it as plain bytes (an empty file passes)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ClapcliError(f"--db {path}: cannot read ({exc.strerror or exc})") from None
    if head and head != SQLITE_MAGIC:
        raise not_a_library(path, "not an SQLite database")


def check_found(path: Path, found: Found, writing: bool) -> None:
    """Refuse a foreign database, one made by a newer clapcli, and (for readers) an outdated one."""
    reason = found.foreign_reason()
    if reason is not None:
        raise not_a_library(path, reason)
    if not writing and found.empty:
        raise not_a_library(path, "an empty database")
    if found.user_version > schema_version():
        raise ClapcliError(f"--db {path} was made by a newer clapcli (schema {found.user_version}, this one "
                           f"knows {schema_version()}); upgrade clapcli to use it")
    if not writing and found.user_version < READABLE_FROM:
        raise InvalidField("db", "{db} {path} was made by an older clapcli (schema {version}); run 'clap embed "
                           "FILES --db {path}' once to upgrade it", path=path, version=found.user_version)


def _uri(path: Path, query: str) -> str:
    return f"{Path(os.path.abspath(path)).as_uri()}?{query}"


def _connect(target: str, uri: bool) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=uri)
    except sqlite3.Error as exc:
        raise ClapcliError(f"--db {target}: cannot open ({exc})") from None
    connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return connection


def _has_wal(path: Path) -> bool:
    return path.with_name(path.name + "-wal").exists()


def probe(path: Path) -> Found:
    """Inspect an existing file without creating or changing anything beside it."""
    check_header(path)
    # Without a -wal the main file is complete and immutable=1 creates nothing; with one (a writer
    # is active), only a WAL-aware connection sees the latest commits, and its -shm already exists.
    query = "mode=ro" if _has_wal(path) else "immutable=1"
    try:
        with closing(_connect(_uri(path, query), uri=True)) as connection:
            return inspect(connection)
    except sqlite3.DatabaseError as exc:
        raise not_a_library(path, str(exc)) from None


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection to the library at ``path`` (which exists); never writes anything."""
    check_found(path, probe(path), writing=False)
    try:
        return _checked(path, "mode=ro")
    except sqlite3.OperationalError as exc:
        if _has_wal(path) or not _cannot_share(exc):
            raise
    # A directory we cannot write: no -shm can be made there, and with no -wal no writer is active.
    return _checked(path, "immutable=1")


def _checked(path: Path, query: str) -> sqlite3.Connection:
    connection = _connect(_uri(path, query), uri=True)
    try:
        check_found(path, inspect(connection), writing=False)
    except BaseException:
        connection.close()
        raise
    return connection


def _cannot_share(exc: sqlite3.OperationalError) -> bool:
    name = getattr(exc, "sqlite_errorname", "")  # Python >= 3.11
    text = str(exc).lower()
    return name in {"SQLITE_READONLY_DIRECTORY", "SQLITE_CANTOPEN", "SQLITE_READONLY_CANTINIT"} or (
        "readonly" in text or "unable to open" in text)


def open_writer(path: Path) -> sqlite3.Connection:
    """A connection that may write: the file is recognised first (a foreign one is left alone),
    then set to WAL and brought up to ``schema_version()``."""
    fresh = not path.exists() or path.stat().st_size == 0
    if not fresh:
        found = probe(path)
        check_found(path, found, writing=True)
        fresh = found.empty
    connection = _connect(str(path), uri=False)
    try:
        if fresh:
            connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only takes effect on an empty file
        if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            connection.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed batch survives power loss too, at one fsync per batch.
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        connection.close()
        raise
    return connection


def migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Apply the missing migrations and stamp the application_id, in one write transaction."""
    if _current(inspect(connection)):
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        found = inspect(connection)  # again under the lock: another writer may have done it meanwhile
        check_found(path, found, writing=True)
        for step in MIGRATIONS[found.user_version:]:
            step(connection)
        connection.execute(f"PRAGMA user_version = {schema_version()}")
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    except BaseException:
        connection.rollback()
        raise
    connection.execute("COMMIT")


def _current(found: Found) -> bool:
    return found.application_id == APPLICATION_ID and found.user_version == schema_version()
