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


def committed_rows(db: Path) -> int:
    """Rows a reader sees now; 0 while the writer is still creating the file (it locks it briefly)."""
    try:
        connection = sqlite3.connect(db, timeout=30)
        try:
            return connection.execute("SELECT count(*) FROM items").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.OperationalError:
        return 0


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


def test_killed_clap_embed_db_resumes_without_duplicates(tmp_path: Path, tiny_clap: Path) -> None:
    """The real command: SIGKILL once the first batch is committed, then run it again."""
    import os
    import subprocess
    import sys
    import time

    from audio_fixtures import tone, write_soundfile

    from .conftest import REPO

    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(48):
        write_soundfile(folder / f"{i:02d}.wav", tone(0.2, 16_000, 200 + 20 * i), 16_000)
    db = tmp_path / "library.db"
    command = [sys.executable, "-m", "clapcli", "embed", str(folder), "--db", str(db), "--model", str(tiny_clap),
               "--batch-size", "1", "--workers", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if db.exists() and committed_rows(db) >= 32:  # the first batch is in; the rest is in flight
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    rows, distinct = check_db(db)
    assert rows == distinct and rows in (32, 48)

    resumed = subprocess.run(command[:-1], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{48 - rows} added, 0 updated, {rows} unchanged" in resumed.stderr
    assert check_db(db) == (48, 48)
