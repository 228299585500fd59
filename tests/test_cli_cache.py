"""``clap cache list|rm``: what clapcli can rebuild, listed and removed (a dry run unless --yes);
the library is never touched (issue #26 item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def hub_cache(tmp_path, monkeypatch):
    """An empty hub cache of the test's own (never the machine's)."""
    from huggingface_hub import constants

    path = tmp_path / "hf-hub"
    path.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(path))
    return path


def _cached_repo(hub: Path, repo_id: str, config: dict, size: int, age_days: float = 0) -> Path:
    """A model as huggingface_hub caches it: blobs, a snapshot of links to them, refs/main."""
    import os
    import time

    repo = hub / ("models--" + repo_id.replace("/", "--"))
    import hashlib

    commit = hashlib.sha1(repo_id.encode()).hexdigest()  # noqa: S324 - a commit id, as the hub's
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, data in (("config.json", json.dumps(config).encode()), ("model.safetensors", b"w" * size)):
        blob = repo / "blobs" / f"{abs(hash((repo_id, name))):x}"
        blob.write_bytes(data)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    stamp = time.time() - age_days * 86400
    for path in [*repo.rglob("*"), repo]:
        os.utime(path, (stamp, stamp), follow_symlinks=False)
    return repo


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


def test_hub_copies_of_clapcli_models_are_listed_and_removed_through_the_hub(cli, cache, hub_cache):
    env = {"CLAPCLI_HOME": str(cache)}
    ours = _cached_repo(hub_cache, "someone/my-clap", {"model_type": "clap"}, 4000)
    _cached_repo(hub_cache, "someone/a-bert", {"model_type": "bert"}, 9000)  # not a clapcli model: not listed
    rows = {row["entry"]: row for row in json.loads(cli(["cache", "list", "-f", "json"], env=env).stdout)}
    assert "hub/someone/my-clap" in rows and "hub/someone/a-bert" not in rows
    assert rows["hub/someone/my-clap"]["bytes"] >= 4000
    everything = cli(["cache", "rm", "--all", "--yes"], env=env)
    assert "removed 5 entries" in everything.stderr and ours.exists()  # --all leaves downloaded models alone
    done = cli(["cache", "rm", "hub/someone/my-clap", "--yes"], env=env)
    assert done.exit_code == 0 and "removed 1 entry" in done.stderr, done.stderr
    assert not (ours / "snapshots").exists() or not any((ours / "snapshots").iterdir())
    assert (hub_cache / "models--someone--a-bert" / "blobs").exists()


def test_prune_removes_only_what_was_not_used_lately(cli, cache, hub_cache):
    import os
    import time

    env = {"CLAPCLI_HOME": str(cache)}
    old = time.time() - 90 * 86400
    for path in [*(cache / "onnx-int8").rglob("*"), cache / "onnx-int8" / "3c4d"]:
        os.utime(path, (old, old))
    stale_repo = _cached_repo(hub_cache, "someone/old-clap", {"model_type": "clap"}, 100, age_days=90)
    dry = cli(["cache", "prune", "--older-than", "30"], env=env)
    assert dry.exit_code == 0 and "would remove: onnx-int8/3c4d" in dry.stderr
    assert "would remove: hub/someone/old-clap" in dry.stderr and "exports" not in dry.stderr
    assert (cache / "onnx-int8" / "3c4d").exists() and stale_repo.exists()
    done = cli(["cache", "prune", "--older-than", "30", "--yes"], env=env)
    assert done.exit_code == 0 and "removed 2 entries" in done.stderr
    assert not (cache / "onnx-int8" / "3c4d").exists() and (cache / "exports" / "tiny-1a2b-onnx").exists()
    again = cli(["cache", "prune"], env=env)
    assert "nothing to prune" in again.stderr
