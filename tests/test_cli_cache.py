"""``clap cache list|rm``: what clapcli can rebuild, listed and removed (a dry run unless --yes);
the library is never touched (issue #26 item 3)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture()
def cache(tmp_path):
    home = tmp_path / "home"
    for folder, name, size in (("exports", "tiny-1a2b-openvino", 3000), ("exports", "tiny-1a2b-onnx", 2000),
                               ("onnx-int8", "3c4d", 500), ("converted", "msclap-2023", 100)):
        (home / folder / name).mkdir(parents=True)
        (home / folder / name / "model.bin").write_bytes(b"x" * size)
    (home / "file-hashes.json").write_text("{}")
    (home / "library.db").write_bytes(b"the user's library")
    (home / "notes.txt").write_text("mine")
    return home


def test_cache_list(cli, cache):
    listed = cli(["cache", "list", "-f", "json"], env={"CLAPCLI_HOME": str(cache)})
    assert listed.exit_code == 0, listed.stderr
    rows = {row["entry"]: row for row in json.loads(listed.stdout)}
    assert sorted(rows) == ["converted/msclap-2023", "exports/tiny-1a2b-onnx", "exports/tiny-1a2b-openvino",
                            "file-hashes.json", "onnx-int8/3c4d"]
    assert rows["exports/tiny-1a2b-openvino"]["bytes"] == 3000 and rows["file-hashes.json"]["bytes"] == 2
    assert rows["onnx-int8/3c4d"]["last_used"].endswith("+00:00")


def test_cache_rm_is_a_dry_run_unless_yes(cli, cache):
    env = {"CLAPCLI_HOME": str(cache)}
    dry = cli(["cache", "rm", "exports/*"], env=env)
    assert dry.exit_code == 0, dry.stderr
    assert "would remove: exports/tiny-1a2b-openvino (3.0 kB)" in dry.stderr
    assert "2 entries, 5.0 kB would be removed (dry run); pass --yes to remove them" in dry.stderr
    assert (cache / "exports" / "tiny-1a2b-openvino" / "model.bin").exists()

    done = cli(["cache", "rm", "exports", "--yes"], env=env)
    assert done.exit_code == 0 and "removed 2 entries" in done.stderr
    assert list((cache / "exports").iterdir()) == [] and (cache / "onnx-int8" / "3c4d").exists()


def test_cache_rm_all_never_touches_the_library(cli, cache):
    done = cli(["cache", "rm", "--all", "--yes"], env={"CLAPCLI_HOME": str(cache)})
    assert done.exit_code == 0 and "removed 5 entries" in done.stderr
    assert sorted(p.name for p in cache.iterdir() if not p.is_dir()) == ["library.db", "notes.txt"]
    assert (cache / "library.db").read_bytes() == b"the user's library"


@pytest.mark.parametrize("args", [[], ["exports/*", "--all"]])
def test_cache_rm_needs_a_pattern_or_all(cli, cache, args):
    done = cli(["cache", "rm", *args], env={"CLAPCLI_HOME": str(cache)})
    assert done.exit_code == 2 and "give a PATTERN" in done.stderr and "--all" in done.stderr
    assert (cache / "exports" / "tiny-1a2b-onnx").exists()


def test_cache_rm_names_the_entries_when_nothing_matches(cli, cache):
    done = cli(["cache", "rm", "expotrs/*", "--yes"], env={"CLAPCLI_HOME": str(cache)})
    assert done.exit_code == 0 and "nothing in" in done.stderr and "exports/tiny-1a2b-onnx" in done.stderr
