"""Reading a library changes nothing; what is not ours is refused untouched; the schema migrates
(issue 12 item 4, issue 13 "the store migrates its schema").

Before: ``clap retrieve --db foreign.sqlite q`` switched the file to WAL, set ``user_version`` and
created two tables, then said "no collection".
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from clapcli.errors import ClapcliError, UsageError
from clapcli.store import ItemRow, open_store, schema

APP_ID = 0x434C4150  # ASCII "CLAP"
REPO = Path(__file__).resolve().parents[1]


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """name -> (sha256, mtime_ns) of every file in ``folder``: any change, or a new -wal/-shm, shows."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir())}


def pragma(db: Path, name: str) -> int:
    connection = sqlite3.connect(f"{db.as_uri()}?immutable=1", uri=True)
    try:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        connection.close()


def make_foreign(path: Path, journal: str, application_id: int = 0) -> Path:
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA journal_mode = {journal}")
    connection.execute("CREATE TABLE notes (x TEXT)")
    connection.execute("INSERT INTO notes VALUES ('mine')")
    if application_id:
        connection.execute(f"PRAGMA application_id = {application_id}")
    connection.commit()
    connection.close()
    return path


def make_library(db: Path, rows: int = 3, dim: int = 4) -> np.ndarray:
    vectors = np.random.default_rng(0).normal(size=(rows, dim)).astype(np.float32)
    with open_store(db) as store:
        store.collection("default", "m", dim).upsert(
            [ItemRow(f"/s/{i}.wav", f"h{i}", v) for i, v in enumerate(vectors)])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_retrieve_on_a_foreign_sqlite_file_refuses_and_changes_nothing(tmp_path: Path, cli, journal: str) -> None:
    foreign = make_foreign(tmp_path / "foreign.sqlite", journal)
    before = fingerprint(tmp_path)
    result = cli(["retrieve", "rain", "--db", foreign])
    assert result.exit_code == 2, result.stderr
    assert f"--db {foreign} is not a clapcli library (tables: notes)" in result.stderr
    assert result.stderr.count("error:") == 1 and len(result.stderr.strip().splitlines()) == 1
    assert fingerprint(tmp_path) == before  # same bytes, same mtime, no -wal/-shm left beside it


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_writer_also_leaves_a_foreign_file_alone(tmp_path: Path, journal: str) -> None:
    foreign = make_foreign(tmp_path / "foreign.sqlite", journal)
    before = fingerprint(tmp_path)
    with pytest.raises(UsageError, match="is not a clapcli library"):
        open_store(foreign)
    assert fingerprint(tmp_path) == before


def test_another_programs_application_id_is_refused_even_with_our_tables(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    make_library(db)
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA application_id = 1234")
    connection.commit()
    connection.close()
    before = fingerprint(tmp_path)
    for readonly in (True, False):
        with pytest.raises(UsageError, match=r"application_id is 0x000004d2, another program's"):
            open_store(db, readonly=readonly)
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 a zip, not sqlite" * 50])
def test_an_empty_or_non_sqlite_file_is_refused_by_readers_unchanged(tmp_path: Path, content: bytes, cli) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(content)
    before = fingerprint(tmp_path)
    result = cli(["retrieve", "rain", "--db", junk])
    assert result.exit_code == 2 and f"--db {junk} is not a clapcli library (" in result.stderr
    assert fingerprint(tmp_path) == before


def test_a_writer_refuses_a_non_sqlite_file_and_fills_an_empty_one(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite" * 100)
    with pytest.raises(UsageError, match="not a clapcli library \\(not an SQLite database\\)"):
        open_store(junk)
    assert junk.read_bytes() == b"not sqlite" * 100
    empty = tmp_path / "empty.db"
    empty.touch()  # e.g. made by mktemp: a new library
    make_library(empty)
    assert pragma(empty, "application_id") == APP_ID


def test_a_new_library_carries_the_application_id_and_version(tmp_path: Path) -> None:
    make_library(tmp_path / "library.db")
    assert pragma(tmp_path / "library.db", "application_id") == APP_ID
    assert pragma(tmp_path / "library.db", "user_version") == len(schema.MIGRATIONS)


def test_reading_a_library_changes_not_a_byte(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    expected = make_library(db)
    before = fingerprint(tmp_path)
    with open_store(db, readonly=True) as store:
        collection = store.collection("default", create=False)
        loaded = collection.load_matrix()
        with pytest.raises(ClapcliError, match="opened read-only"):
            store.collection("new", "m", 4)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.connection.execute("CREATE TABLE x (y)")
    np.testing.assert_array_equal(loaded.vectors, expected)
    after = fingerprint(tmp_path)
    assert after[db.name] == before[db.name]
    # SQLite's mode=ro leaves its shared-memory files (empty -wal, -shm) where it may create them;
    # the next writer removes them. Nothing else appears.
    assert set(after) - set(before) <= {"library.db-wal", "library.db-shm"}
    assert not (tmp_path / "library.db-wal").exists() or (tmp_path / "library.db-wal").stat().st_size == 0


def as_unprivileged(action: Callable[[], object]) -> object:
    """Run ``action`` in a forked child as user 'nobody' (tests run as root, whom chmod does not stop)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                outcome: object = ("ok", action())
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                outcome = ("error", f"{type(exc).__name__}: {exc}")
            os.write(write_end, pickle.dumps(outcome))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


def search_count(db: Path) -> tuple[int, list[str]]:
    with open_store(db, readonly=True) as store:
        count = len(store.collection("default", create=False).load_matrix().ids)
    return count, sorted(os.listdir(db.parent))


@pytest.fixture()
def read_only_library():
    """A library in a directory 'nobody' can enter but not write (pytest's tmp_path is root-only)."""
    with tempfile.TemporaryDirectory(prefix="clapcli-ro-") as base:
        os.chmod(base, 0o755)
        folder = Path(base) / "ro"
        folder.mkdir()
        db = folder / "library.db"
        make_library(db)
        os.chmod(db, 0o644)
        os.chmod(folder, 0o555)
        try:
            yield db
        finally:
            os.chmod(folder, 0o755)


def test_a_library_in_a_read_only_directory_can_be_searched(read_only_library: Path) -> None:
    db = read_only_library
    before = fingerprint(db.parent)
    assert as_unprivileged(lambda: os.access(db.parent, os.W_OK)) == ("ok", False)  # really read-only
    assert as_unprivileged(lambda: search_count(db)) == ("ok", (3, ["library.db"]))
    assert fingerprint(db.parent) == before


def test_an_approximate_index_in_a_read_only_directory_is_used() -> None:
    from clapcli.core.search import load_or_build_index

    with tempfile.TemporaryDirectory(prefix="clapcli-ro-") as base:
        os.chmod(base, 0o755)
        db = Path(base) / "library.db"
        vectors = np.random.default_rng(1).normal(size=(60, 8)).astype(np.float32)
        with open_store(db) as store:  # the index was built while the directory was writable
            collection = store.collection("default", "m", 8)
            collection.upsert([ItemRow(f"/s/{i}.wav", "h", v) for i, v in enumerate(vectors)])
            load_or_build_index(collection)
        for path in Path(base).iterdir():
            os.chmod(path, 0o644)
        os.chmod(base, 0o555)
        try:
            before = fingerprint(Path(base))

            def search() -> int:  # before: the index's lock file could not be created (PermissionError)
                with open_store(db, readonly=True) as store:
                    return load_or_build_index(store.collection("default", create=False)).ntotal

            assert as_unprivileged(search) == ("ok", 60)
            assert fingerprint(Path(base)) == before
        finally:
            os.chmod(base, 0o755)


HOLDING_WRITER = """
import sys
import numpy as np
from clapcli.store import ItemRow, open_store
with open_store(sys.argv[1]) as store:
    store.collection("default", "m", 4).upsert([ItemRow("/s/new.wav", "h", np.ones(4))])
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_a_read_only_directory_with_an_active_writer_sees_its_commits(read_only_library: Path) -> None:
    db = read_only_library
    # Root may write there: a writer in another process keeps rows in its -wal, not yet in the file.
    # (Another process: a forked child must not inherit a live connection to the same file.)
    writer = subprocess.Popen([sys.executable, "-c", HOLDING_WRITER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        for name in ("library.db-wal", "library.db-shm"):
            os.chmod(db.parent / name, 0o644)
        before = fingerprint(db.parent)
        outcome = as_unprivileged(lambda: search_count(db))
        assert outcome == ("ok", (4, ["library.db", "library.db-shm", "library.db-wal"]))
        assert fingerprint(db.parent) == before
    finally:
        writer.communicate("\n", timeout=30)
    assert writer.returncode == 0


LEGACY_COLLECTION = ("default", "m", 2, 1.0)


@pytest.fixture()
def legacy_library(tmp_path: Path) -> Path:
    """A library as clapcli wrote it before the application_id: version 1, our tables, id 0."""
    db = tmp_path / "legacy.db"
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA page_size = 32768")
    connection.execute("PRAGMA journal_mode = WAL")
    schema.MIGRATIONS[0](connection)
    connection.execute("PRAGMA user_version = 1")
    connection.execute("INSERT INTO collections (name, model_id, dim, created) VALUES (?, ?, ?, ?)", LEGACY_COLLECTION)
    connection.execute("INSERT INTO items (collection_id, path, hash, model_id, created, vector) "
                       "VALUES (1, '/a.wav', 'h', 'm', 1.0, ?)", (np.array([0.6, 0.8], "<f4").tobytes(),))
    connection.close()
    return db


def test_a_library_without_application_id_is_read_as_is_and_stamped_on_write(legacy_library: Path) -> None:
    db = legacy_library
    before = fingerprint(db.parent)
    with open_store(db, readonly=True) as store:
        assert store.collection("default", create=False).vector_for("/a.wav").tolist() == pytest.approx([0.6, 0.8])
    assert fingerprint(db.parent)[db.name] == before[db.name]
    assert pragma(db, "application_id") == 0  # reading never stamps
    with open_store(db) as store:
        assert store.collection("default", create=False).count() == 1
    assert pragma(db, "application_id") == APP_ID and pragma(db, "user_version") == len(schema.MIGRATIONS)


def test_a_library_from_a_newer_clapcli_is_refused_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    make_library(db)
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA user_version = 7")
    connection.commit()
    connection.close()
    before = fingerprint(tmp_path)
    for readonly in (True, False):
        with pytest.raises(ClapcliError, match=rf"made by a newer clapcli \(schema 7, this one knows "
                                               rf"{len(schema.MIGRATIONS)}\); upgrade"):
            open_store(db, readonly=readonly)
    assert fingerprint(tmp_path) == before


def _v2_tags(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE items ADD COLUMN note TEXT")
    db.execute("CREATE TABLE labels (item_id INTEGER REFERENCES items(id), tag TEXT NOT NULL)")


def test_a_library_made_today_opens_after_a_migration_is_appended(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "library.db"
    expected = make_library(db)
    today = len(schema.MIGRATIONS)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _v2_tags])
    before = fingerprint(tmp_path)
    with open_store(db, readonly=True) as store:  # version 1 is still readable as it is
        assert store.collection("default", create=False).count() == 3
    assert fingerprint(tmp_path)[db.name] == before[db.name] and pragma(db, "user_version") == today

    with open_store(db) as store:  # a writer upgrades it, rows intact
        collection = store.collection("default", create=False)
        np.testing.assert_array_equal(collection.load_matrix(cache=False).vectors, expected)
        columns = [row[1] for row in store.connection.execute("PRAGMA table_info(items)")]
        assert "note" in columns
        store.connection.execute("INSERT INTO labels VALUES (1, 'rain')")
    assert pragma(db, "user_version") == today + 1 and pragma(db, "application_id") == APP_ID
    with open_store(db, readonly=True) as store:
        assert store.collection("default", create=False).count() == 3


def test_a_reader_asks_for_an_upgrade_it_cannot_read_around(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "library.db"
    make_library(db)
    today = len(schema.MIGRATIONS)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _v2_tags])
    monkeypatch.setattr(schema, "READABLE_FROM", today + 1)
    with pytest.raises(UsageError, match=f"older clapcli \\(schema {today}\\); run 'clap embed FILES --db {db}' once"):
        open_store(db, readonly=True)
    assert pragma(db, "user_version") == today


def test_a_failing_migration_leaves_the_library_as_it_was(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "library.db"
    make_library(db)

    def broken(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE half (x)")
        connection.execute("INSERT INTO no_such_table VALUES (1)")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _v2_tags, broken])
    with pytest.raises(ClapcliError, match="cannot bring it up to date"):
        open_store(db)
    with open_store(db, readonly=True) as store:
        tables = {r[0] for r in store.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"collections", "items", "tag_sets", "tags"}  # those of today's schema, no more
        assert store.collection("default", create=False).count() == 3
    assert pragma(db, "user_version") == len(schema.MIGRATIONS) - 2  # neither step appended here applied
