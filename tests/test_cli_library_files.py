"""Files the user keeps: ``clap library rm`` asks (or needs --yes), ``prune --dry-run`` removes nothing."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from clapcli.store import ItemRow, open_store


def _library(path: Path, files: list[Path], name: str = "drums") -> Path:
    with open_store(path) as store:
        collection = store.collection(name, model_id="tiny", dim=4)
        vectors = np.eye(4, dtype=np.float32)
        collection.upsert([ItemRow(str(f), f"h{i}", vectors[i % 4]) for i, f in enumerate(files)])
    return path


def _rows(path: Path, name: str = "drums") -> int:
    with open_store(path, readonly=True) as store:
        return store.collection(name, create=False).count()


@pytest.fixture()
def library(tmp_path):
    files = [tmp_path / f"{i}.wav" for i in range(3)]
    for f in files:
        f.write_bytes(b"x")
    return _library(tmp_path / "lib.db", files), files


def test_rm_off_a_terminal_needs_yes(cli, library):
    db, _ = library
    refused = cli(["library", "rm", "drums", "--db", db])
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr and "not deleting collection 'drums' (3 rows)" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert _rows(db) == 3  # nothing deleted

    removed = cli(["library", "rm", "drums", "--db", db, "--yes"])
    assert removed.exit_code == 0 and "collection 'drums' removed (3 rows)" in removed.stderr
    with open_store(db, readonly=True) as store:
        assert store.collection_names() == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("YES\n", True), ("\n", False), ("n\n", False),
                                                 ("", False)])
def test_rm_on_a_terminal_asks(library, monkeypatch, capsys, answer, deleted):
    from clapcli.commands.library import remove

    db, _ = library
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    remove("drums", db=db, yes=False, quiet=False)
    err = capsys.readouterr().err
    assert f"delete collection 'drums' (3 rows) from {db}? [y/N]" in err
    with open_store(db, readonly=True) as store:
        assert store.collection_names() == ([] if deleted else ["drums"])
    assert ("removed (3 rows)" if deleted else "kept (3 rows)") in err


def test_prune_dry_run_removes_nothing(cli, library):
    db, files = library
    files[1].unlink()
    dry = cli(["library", "prune", "--db", db, "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    assert f"would prune: {files[1]}" in dry.stderr
    assert "1 row of missing files would be pruned (dry run: nothing removed)" in dry.stderr
    assert _rows(db) == 3
    pruned = cli(["library", "prune", "--db", db])
    assert pruned.exit_code == 0 and "1 row of missing files pruned" in pruned.stderr
    assert _rows(db) == 2


def test_embed_collection_without_db_names_the_default_library(cli, tiny_clap, audio_files, tmp_path):
    home = tmp_path / "home"
    done = cli(["embed", audio_files["wav_pcm_16"], "-c", "drums", "-m", tiny_clap, "--device", "cpu"],
               env={"CLAPCLI_HOME": str(home)})
    assert done.exit_code == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "default library" in line]
    assert notes == [f"no --db given: writing to the default library {home / 'library.db'}"]
    assert _rows(home / "library.db") == 1
    with_db = cli(["embed", audio_files["wav_pcm_16"], "-c", "drums", "-m", tiny_clap, "--device", "cpu",
                   "--db", tmp_path / "lib.db"])
    assert with_db.exit_code == 0 and "default library" not in with_db.stderr


@pytest.mark.parametrize("command", [["embed", "x.wav"], ["retrieve", "rain"], ["library", "list"]])
def test_db_swallowing_the_next_option_is_a_usage_error(cli, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    done = cli([*command, "--db", "-c", "drums"])
    assert done.exit_code == 2
    assert "--db needs a file name; '-c' looks like an option" in done.stderr
    assert not (tmp_path / "-c").exists()


@pytest.mark.parametrize(("answer", "kept"), [(b"y\n", []), (b"n\n", ["drums"])])
def test_rm_asks_on_a_real_terminal(library, answer, kept):
    import os
    import pty
    import select
    import subprocess
    import time

    db, _ = library
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-m", "clapcli", "library", "rm", "drums", "--db", str(db)],
                               stdin=slave, stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    seen, deadline = b"", time.monotonic() + 60
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            seen += os.read(master, 4096)
    assert f"delete collection 'drums' (3 rows) from {db}? [y/N]".encode() in seen.replace(b"\r\n", b"")
    os.write(master, answer)
    assert process.wait(timeout=60) == 0
    os.close(master)
    with open_store(db, readonly=True) as store:
        assert store.collection_names() == kept
