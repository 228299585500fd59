"""``clap download`` against a hub over HTTP (a local fake of the endpoints ``snapshot_download`` uses):
files land in the cache byte for byte, the model then loads offline by its alias, a second run fetches
nothing, an unknown repo is one ``failed:`` line (issue 14, "commands users expect")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from fake_hub_server import FakeHub

REPO = "laion/clap-htsat-unfused"


@pytest.fixture
def hub(tiny_clap):
    server = FakeHub({REPO: tiny_clap})
    yield server
    server.close()


def _clap(*args: object, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clapcli", *map(str, args)], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)


def _env(hub: FakeHub, cache, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    return {**env, "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(cache), "HF_HUB_DISABLE_XET": "1", **extra}


def test_download_fills_the_cache_and_the_model_then_loads_offline(hub, tiny_clap, tmp_path):
    cache = tmp_path / "hub"
    fetched = _clap("download", "unfused", env=_env(hub, cache))
    assert fetched.returncode == 0, fetched.stderr
    snapshot = next((cache / "models--laion--clap-htsat-unfused" / "snapshots").iterdir())
    assert fetched.stderr.strip() == f"{REPO}: downloaded to {snapshot}"
    for name in hub.files(REPO):
        assert (snapshot / name).read_bytes() == (tiny_clap / name).read_bytes(), name

    offline = _env(hub, cache, HF_HUB_OFFLINE="1")
    by_alias = _clap("embed", "--text", "a dog", "-m", "unfused", "-f", "jsonl", "-q", env=offline)
    local = _clap("embed", "--text", "a dog", "-m", tiny_clap, "-f", "jsonl", "-q", env=offline)
    assert by_alias.returncode == 0, by_alias.stderr
    np.testing.assert_array_equal(json.loads(by_alias.stdout)["embedding"], json.loads(local.stdout)["embedding"])

    hub.requests.clear()
    again = _clap("download", REPO, env=_env(hub, cache))
    assert again.returncode == 0 and again.stderr.strip() == f"{REPO}: already in the cache at {snapshot}"
    assert not [r for r in hub.requests if r.startswith("GET") and "/resolve/" in r]  # nothing fetched twice


def test_an_unknown_repo_is_one_failed_line_and_the_others_download(hub, tmp_path):
    result = _clap("download", "nobody/no-such-model", REPO, env=_env(hub, tmp_path / "hub"))
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("failed: nobody/no-such-model: cannot download 'nobody/no-such-model': no such model")
    assert any(line.startswith(f"{REPO}: downloaded to ") for line in lines)
