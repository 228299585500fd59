"""The default library lives in the data folder, and an old one in the cache is moved there once,
never lost on the way (issue #26 item 3)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from clapcli.store import ItemRow, default_db_path, location, open_store


@pytest.fixture()
def homes(tmp_path, monkeypatch):
    """HOME, XDG_DATA_HOME and XDG_CACHE_HOME in tmp dirs, CLAPCLI_HOME unset; an old default library."""
    home, data, cache = tmp_path / "home", tmp_path / "data", tmp_path / "xdg-cache"
    for variable, value in (("HOME", home), ("XDG_DATA_HOME", data), ("XDG_CACHE_HOME", cache)):
        value.mkdir()
        monkeypatch.setenv(variable, str(value))
    monkeypatch.delenv("CLAPCLI_HOME", raising=False)
    old = home / ".cache" / "clapcli" / "library.db"
    with open_store(old) as store:
        store.collection("drums", model_id="tiny", dim=4).upsert(
            [ItemRow(f"/x/{i}.wav", f"h{i}", np.eye(4, dtype=np.float32)[i]) for i in range(3)])
    assert not Path(f"{old}-wal").exists()
    return old, data / "clapcli" / "library.db"


def test_the_default_is_the_data_folder_and_clapcli_home_keeps_its_meaning(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("CLAPCLI_HOME", raising=False)
    assert default_db_path() == tmp_path / "data" / "clapcli" / "library.db"
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "mine"))
    assert default_db_path() == tmp_path / "mine" / "library.db"


def test_an_explicit_clapcli_home_moves_nothing(homes, tmp_path, monkeypatch):
    old, _ = homes
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "mine"))
    assert default_db_path() == tmp_path / "mine" / "library.db"
    assert old.exists()


def test_the_old_library_is_moved_once_with_a_note(homes, cli):
    old, new = homes
    before = old.read_bytes()
    listed = cli(["library", "list", "-f", "csv"])
    assert listed.exit_code == 0, listed.stderr
    notes = [line for line in listed.stderr.splitlines() if "moved the library" in line]
    assert notes == [f"moved the library from {old} to {new} (out of the cache, which cache cleaners empty)"]
    assert listed.stdout.splitlines()[1].startswith("drums,tiny,4,files,3,")
    assert not old.exists() and new.read_bytes() == before
    again = cli(["library", "list", "-f", "csv"])
    assert again.exit_code == 0 and "moved" not in again.stderr


def _other_filesystem(monkeypatch, old: Path) -> None:
    rename = os.rename

    def cross_device(source, target):  # noqa: ANN001
        if Path(source) == old:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        return rename(source, target)

    monkeypatch.setattr(location.os, "rename", cross_device)


def test_the_move_across_filesystems_copies_then_removes(homes, monkeypatch):
    old, new = homes
    before = old.read_bytes()
    _other_filesystem(monkeypatch, old)
    assert default_db_path() == new
    assert new.read_bytes() == before and not old.exists()
    assert sorted(p.name for p in new.parent.iterdir()) == ["library.db"]  # no temporary file left


def test_a_failure_half_way_leaves_the_old_library_untouched(homes, monkeypatch, cli):
    old, new = homes
    before = old.read_bytes()
    _other_filesystem(monkeypatch, old)

    def disk_full(source, target, length=0):  # noqa: ANN001
        target.write(source.read(1000))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(location.shutil, "copyfileobj", disk_full)
    listed = cli(["library", "list", "-f", "csv"])
    assert listed.exit_code == 0, listed.stderr
    assert listed.stderr.strip().splitlines() == [
        f"warning: could not move the library {old} to {new} (No space left on device); it is left untouched "
        "and used where it is"]
    assert listed.stdout.splitlines()[1].startswith("drums,tiny,4,files,3,")  # read from where it is
    assert old.read_bytes() == before
    assert not new.exists() and list(new.parent.iterdir()) == []


def test_a_failed_publish_leaves_the_old_library_untouched(homes, monkeypatch):
    old, new = homes
    before = old.read_bytes()
    _other_filesystem(monkeypatch, old)

    def broken_link(source, target):  # noqa: ANN001
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(location.os, "link", broken_link)
    assert default_db_path() == old
    assert old.read_bytes() == before and not new.exists() and list(new.parent.iterdir()) == []


def test_rows_left_in_a_wal_by_a_killed_writer_are_moved_too(homes, tmp_path):
    old, new = homes
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    with open_store(old) as store:
        store.connection.execute("PRAGMA wal_autocheckpoint=0")
        store.collection("drums").upsert([ItemRow("/x/new.wav", "h9", np.ones(4, dtype=np.float32) / 2)])
        for suffix in ("", "-wal"):  # the files as a killed writer leaves them
            shutil.copy(f"{old}{suffix}", crashed / f"library.db{suffix}")
    for suffix in ("", "-wal"):
        shutil.copy(crashed / f"library.db{suffix}", f"{old}{suffix}")
    assert Path(f"{old}-wal").stat().st_size > 0
    assert default_db_path() == new
    assert not Path(f"{old}-wal").exists()
    with open_store(new, readonly=True) as store:
        assert store.collection("drums", create=False).count() == 4
