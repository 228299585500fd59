"""Segment libraries: ``clap embed --db --segments --hop`` stores one vector per window with its times,
``clap retrieve --db`` hits carry start and end (best window per file unless --all-segments); runs
are incremental, kinds of collection are not mixed, prune works by file, old libraries migrate."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3

import pytest


def _embed(cli, db, *files, segments="1", hop="0.5", extra=()):
    return cli(["embed", *files, "--db", db, "--segments", segments, "--hop", hop, "--quiet", *extra])


def _retrieve(cli, db, query, *extra):
    result = cli(["retrieve", query, "--db", db, "-f", "csv", *extra])
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_segments_stored_with_times_and_found_by_time(cli, fake_model, scenes, tmp_path):
    db = tmp_path / "lib.db"
    result = _embed(cli, db, scenes["scene"], scenes["other"])
    assert result.exit_code == 0, result.stderr
    rows = sqlite3.connect(db).execute('SELECT source, "start", "end", path FROM items ORDER BY source, "start"')
    rows = rows.fetchall()
    scene = [r for r in rows if r[0] == str(scenes["scene"])]
    assert [r[1] for r in scene] == [i * 0.5 for i in range(23)] and [r[2] for r in scene][-1] == 12.0
    assert scene[3][3] == f"{scenes['scene']}#t=1.500,2.500"
    assert len([r for r in rows if r[0] == str(scenes["other"])]) == 7
    info = sqlite3.connect(db).execute("SELECT segment_seconds, hop_seconds FROM collections").fetchone()
    assert info == (1.0, 0.5)
    (listed,) = json.loads(cli(["library", "list", "--db", db, "-f", "json"]).stdout)
    assert listed["kind"] == "segments 1 s / hop 0.5 s"  # a collection says it is per-segment

    best = _retrieve(cli, db, "high tone", "-k", "2")
    assert list(best[0]) == ["query", "rank", "score", "path", "start", "end"]
    assert {r["path"] for r in best} == {str(scenes["scene"]), str(scenes["other"])}  # best window per file
    for row in best:
        start, end = float(row["start"]), float(row["end"])
        assert end - start == pytest.approx(1.0) and float(row["score"]) == pytest.approx(1.0)
        assert (6.0 <= start and end <= 8.5) if row["path"] == str(scenes["scene"]) else (1.0 <= start and end <= 3.0)
    every = _retrieve(cli, db, "high tone", "-k", "6", "--all-segments")
    assert len(every) == 6 and len({(r["path"], r["start"]) for r in every}) == 6
    assert all(float(r["score"]) == pytest.approx(1.0) for r in every)  # windows wholly inside a high tone


def test_incremental_and_crash_safe_by_file(cli, fake_model, scenes, tmp_path):
    db = tmp_path / "lib.db"
    assert _embed(cli, db, scenes["scene"]).exit_code == 0
    calls = fake_model.calls
    assert _embed(cli, db, scenes["scene"], scenes["other"]).exit_code == 0
    count = sqlite3.connect(db).execute("SELECT count(*) FROM items").fetchone()[0]
    assert count == 23 + 7
    again = fake_model.calls
    assert again > calls  # only the new file was embedded ...
    assert _embed(cli, db, scenes["scene"], scenes["other"]).exit_code == 0
    assert fake_model.calls == again  # ... and nothing the third time


def test_collection_kinds_are_not_mixed(cli, fake_model, scenes, tmp_path):
    db = tmp_path / "lib.db"
    assert _embed(cli, db, scenes["scene"]).exit_code == 0
    plain = cli(["embed", scenes["other"], "--db", db, "--quiet"])
    assert plain.exit_code == 2 and "holds segments of 1 s every 0.5 s, not one vector per file" in plain.stderr
    other = _embed(cli, db, scenes["other"], segments="2", hop="1")
    assert other.exit_code == 2 and "not segments of 2 s every 1 s" in other.stderr
    assert _embed(cli, db, scenes["other"], segments="2", hop="1", extra=("-c", "coarse")).exit_code == 0
    per_file = tmp_path / "files.db"
    assert cli(["embed", scenes["other"], "--db", per_file, "--quiet"]).exit_code == 0
    refused = _embed(cli, per_file, scenes["scene"])
    assert refused.exit_code == 2 and "holds one vector per file" in refused.stderr


def test_segment_options_need_a_library(cli, fake_model, scenes, tmp_path):
    result = cli(["embed", scenes["scene"], "--segments", "1", "-o", tmp_path / "x.jsonl"])
    assert result.exit_code == 2 and "add --db" in result.stderr
    result = cli(["embed", scenes["scene"], "--db", tmp_path / "lib.db", "--hop", "1"])
    assert result.exit_code == 2 and "--hop needs --segments" in result.stderr
    result = cli(["embed", scenes["scene"], "--db", tmp_path / "lib.db", "--segments", "0"])
    assert result.exit_code == 2 and "--segments 0: give a positive number of seconds" in result.stderr


def test_prune_drops_the_windows_of_missing_files(cli, fake_model, scenes, tmp_path):
    copy = tmp_path / "copy.flac"
    shutil.copy(scenes["other"], copy)
    db = tmp_path / "lib.db"
    assert _embed(cli, db, scenes["scene"], copy).exit_code == 0
    copy.unlink()
    assert _embed(cli, db, scenes["scene"], extra=("--prune",)).exit_code == 0
    sources = {r[0] for r in sqlite3.connect(db).execute("SELECT DISTINCT source FROM items")}
    assert sources == {str(scenes["scene"])}


def test_a_version_1_library_migrates_and_keeps_its_rows(cli, fake_model, scenes, tmp_path, monkeypatch):
    from clapcli.store import schema

    db = tmp_path / "old.db"
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        assert cli(["embed", scenes["other"], "--db", db, "--quiet"]).exit_code == 0
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 1
    found = _retrieve(cli, db, "high tone")  # read as it is (readers never migrate)
    assert [r["path"] for r in found] == [str(scenes["other"])] and "start" not in found[0]
    assert _embed(cli, db, scenes["scene"], extra=("-c", "windows")).exit_code == 0
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    assert [r["path"] for r in _retrieve(cli, db, "high tone")] == [str(scenes["other"])]
    assert _retrieve(cli, db, "high tone", "-c", "windows")[0]["start"]
