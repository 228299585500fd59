"""A writer killed with SIGKILL loses at most its open batch; a rerun completes it with no
duplicates; two processes writing at once both succeed. Real processes, real SQLite file."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import numpy as np

from clapcli.store import open_store

from .conftest import spawn_writer
from .writer_child import vector


def read_until(process, prefix: str) -> list[str]:
    lines = []
    for line in process.stdout:
        lines.append(line.strip())
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"writer exited before '{prefix}': {process.stderr.read()}")


def check_db(db: Path) -> tuple[int, int]:
    """(rows, distinct paths) after an integrity check; opened with plain sqlite3, as any reader would."""
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return connection.execute("SELECT count(*), count(DISTINCT path) FROM items").fetchone()
    finally:
        connection.close()


def test_killed_inside_a_transaction_loses_only_that_batch_then_resumes(db_path: Path) -> None:
    writer = spawn_writer(db_path, "/k", "100", "10", "--hang-in-batch", "3")
    lines = read_until(writer, "in-flight")
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert lines == ["committed 10", "committed 20", "committed 30", "in-flight"]
    assert check_db(db_path) == (30, 30)  # the open batch 4 vanished entirely

    resumed = spawn_writer(db_path, "/k", "100", "10")
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    assert out.split("\n")[0] == "committed 10"  # it only had the 70 missing rows to do
    assert out.strip().split("\n")[-1] == "committed 70"
    assert check_db(db_path) == (100, 100)
    with open_store(db_path) as store:
        collection = store.collection("default")
        for i in (0, 35, 99):
            expected = vector("/k", i) / np.linalg.norm(vector("/k", i))
            np.testing.assert_allclose(collection.vector_for(f"/k/{i}.wav"), expected, atol=1e-6)


def test_killed_at_an_arbitrary_moment_then_resumed(db_path: Path) -> None:
    writer = spawn_writer(db_path, "/r", "3000", "25")
    read_until(writer, "committed 500")
    writer.send_signal(signal.SIGKILL)  # somewhere in a later batch, wherever it is now
    writer.wait(timeout=30)
    rows, distinct = check_db(db_path)
    assert rows == distinct and rows >= 500 and rows % 25 == 0  # whole batches only

    resumed = spawn_writer(db_path, "/r", "3000", "25")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert check_db(db_path) == (3000, 3000)


def test_two_concurrent_writers(db_path: Path) -> None:
    open_store(db_path).close()  # both start from the same initialised file
    # Overlapping names (/c/0..599 in both): the same path is one row whichever writes it last.
    first = spawn_writer(db_path, "/c", "600", "20")
    second = spawn_writer(db_path, "/c", "600", "7")
    third = spawn_writer(db_path, "/d", "400", "13")
    for process in (first, second, third):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    assert check_db(db_path) == (1000, 1000)
    with open_store(db_path) as store:
        collection = store.collection("default")
        assert collection.count() == 1000
        assert collection.hashes()["/c/599.wav"] == "h599"
        stored = collection.load_matrix()
        assert stored.vectors.shape == (1000, 8) and len(set(stored.ids.tolist())) == 1000
