"""``clap dedupe`` end to end with a tiny random model: the grouping rests on duration and fingerprints
(random weights put unrelated sounds at cosine ~1), the keeper on the files' headers; nothing changes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.library_tools.sounds import melody, tree_digest, write


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sounds")
    write(root / "a" / "one.wav", melody(1), subtype="PCM_16")
    write(root / "copies" / "one.ogg", melody(1))  # lossy copy
    write(root / "copies" / "one-24.flac", melody(1), subtype="PCM_24")  # lossless, deeper
    write(root / "a" / "two.wav", melody(2), subtype="PCM_16")  # same length as one: only the fingerprint differs
    write(root / "copies" / "two-8bit.wav", melody(2), subtype="PCM_U8")
    write(root / "a" / "three.wav", melody(3, seconds=9.0))  # another length
    return root


def _rows(result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _groups(rows: list[dict], root: Path) -> dict[int, set[str]]:
    groups: dict[int, set[str]] = {}
    for row in rows:
        groups.setdefault(row["group"], set()).add(str(Path(row["path"]).relative_to(root)))
    return groups


def _untouched(*roots: Path) -> dict:
    """Every file's bytes and mtime, except SQLite's own -wal/-shm beside the db (a WAL reader opens them;
    they carry no data: the -wal stays empty)."""
    found: dict = {}
    for root in roots:
        found.update({f"{root}/{k}": v for k, v in tree_digest(root).items() if not k.endswith(("-wal", "-shm"))})
    return found


def test_dedupe_a_library_groups_copies_and_suggests_the_best(cli, tiny_clap, sounds, tmp_path) -> None:
    db = tmp_path / "lib.db"
    assert cli(["embed", sounds, "--db", db, "--model", tiny_clap, "-q"]).exit_code == 0
    before = _untouched(tmp_path, sounds)
    result = cli(["dedupe", "--db", db, "--format", "json"])
    rows = _rows(result)
    assert sorted(_groups(rows, sounds).values(), key=sorted) == [
        {"a/one.wav", "copies/one.ogg", "copies/one-24.flac"}, {"a/two.wav", "copies/two-8bit.wav"}]
    kept = {Path(r["path"]).name: r for r in rows if r["keep"]}
    assert set(kept) == {"one-24.flac", "two.wav"}
    assert kept["one-24.flac"]["reason"].startswith("keep: ") and kept["two.wav"]["bits"] == 16
    ogg = next(r for r in rows if r["path"].endswith("one.ogg"))
    assert ogg["reason"] == "lower: lossless (FLAC PCM_24) over lossy (OGG VORBIS)" and ogg["fingerprint"] > 0.9
    assert "fingerprint confirmation: libchromaprint" in result.stderr
    assert "2 groups of duplicates among 6 files" in result.stderr
    assert _untouched(tmp_path, sounds) == before  # the library and the files are untouched


def test_without_fingerprints_equal_durations_group_and_say_so(cli, tiny_clap, sounds, tmp_path) -> None:
    db = tmp_path / "lib.db"
    cli(["embed", sounds, "--db", db, "--model", tiny_clap, "-q"])
    result = cli(["dedupe", "--db", db, "--format", "json", "--no-fingerprint"])
    groups = _groups(_rows(result), sounds)
    # random weights: one and two (same length, cosine ~1) are told apart only by their fingerprints
    assert {"a/one.wav", "a/two.wav"} <= next(g for g in groups.values() if "a/one.wav" in g)
    assert "fingerprint confirmation off (--no-fingerprint)" in result.stderr


def test_dedupe_files_embeds_them_now(cli, tiny_clap, sounds) -> None:
    result = cli(["dedupe", sounds / "a" / "one.wav", sounds / "copies", sounds / "a" / "three.wav",
                  "--model", tiny_clap, "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "group,keep,path,similarity,fingerprint,duration,format,rate,bits,reason"
    groups = {}
    for line in lines[1:]:
        group, _, path = line.split(",")[:3]
        groups.setdefault(group, set()).add(Path(path).name)
    # two-8bit.wav has one.wav's length; its fingerprint keeps it out
    assert list(groups.values()) == [{"one.wav", "one.ogg", "one-24.flac"}]


def test_files_and_db_together_are_refused(cli, sounds, tmp_path) -> None:
    result = cli(["dedupe", sounds, "--db", tmp_path / "lib.db"])
    assert result.exit_code == 2 and "not both" in result.stderr


def test_a_segment_collection_is_refused(cli, tiny_clap, sounds, tmp_path) -> None:
    db = tmp_path / "lib.db"
    assert cli(["embed", sounds / "a", "--db", db, "--model", tiny_clap, "--segments", "2", "-q"]).exit_code == 0
    result = cli(["dedupe", "--db", db])
    assert result.exit_code == 2 and "one vector per window" in result.stderr


def test_duplicate_free_library_has_no_groups(cli, tmp_path) -> None:
    from clapcli.store import ItemRow, open_store

    db = tmp_path / "lib.db"
    with open_store(db) as store:
        store.collection("default", model_id="m", dim=3).upsert(
            [ItemRow(f"/nowhere/{i}.wav", "h", np.eye(3)[i], 1.0) for i in range(3)])
    result = cli(["dedupe", "--db", db, "--format", "json"])
    assert _rows(result) == [] and "0 groups of duplicates among 3 files" in result.stderr


def test_without_a_fingerprinter_one_line_says_how_to_install_one(cli, monkeypatch, tmp_path) -> None:
    from clapcli.core import chromaprint
    from clapcli.store import ItemRow, open_store

    monkeypatch.setattr(chromaprint, "backend_name", lambda: None)
    db = tmp_path / "lib.db"
    with open_store(db) as store:
        store.collection("default", model_id="m", dim=3).upsert([ItemRow("/nowhere/a.wav", "h", np.ones(3), 1.0)])
    result = cli(["dedupe", "--db", db, "--format", "json"])
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if "fingerprint" in line and "off" in line]
    assert lines == ["fingerprint confirmation is off (no Chromaprint found): pip install 'clapcli[dedupe]' "
                     "(or apt-get install libchromaprint-tools for fpcalc)"]


def test_approximate_gives_the_same_groups_and_saves_no_index(cli, tiny_clap, sounds, tmp_path) -> None:
    pytest.importorskip("faiss")
    db = tmp_path / "lib.db"
    cli(["embed", sounds, "--db", db, "--model", tiny_clap, "-q"])
    before = _untouched(tmp_path)
    exact = _rows(cli(["dedupe", "--db", db, "--format", "json"]))
    fast = _rows(cli(["dedupe", "--db", db, "--format", "json", "--approximate"]))
    assert _groups(fast, sounds) == _groups(exact, sounds)
    assert _untouched(tmp_path) == before  # no .faiss beside the library
