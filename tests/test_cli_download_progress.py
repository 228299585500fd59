"""Downloads show progress on a terminal (issue 23 item 12): ``clap download`` and a first-run model
load, stderr on a pseudo-terminal, stdout to a file; none with --quiet or off a terminal."""

from __future__ import annotations

import os
import re

import pytest
from fake_hub_server import FakeHub
from pty_run import run_on_pty

REPO = "laion/clap-htsat-unfused"


@pytest.fixture
def hub(tiny_clap):
    server = FakeHub({REPO: tiny_clap})
    yield server
    server.close()


def _env(hub: FakeHub, cache, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                                                            "HF_HUB_DISABLE_PROGRESS_BARS")}
    return {**env, "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(cache), "HF_HUB_DISABLE_XET": "1",
            "COLUMNS": "100", **extra}


def _progress(screen: str) -> list[str]:
    """The states of a download bar that reached its end with the weights in it (611 kB of the 632 kB):
    '100%|████| 611k/611k' per file, '100%|████|  632kB /  632kB' for a snapshot."""
    return [line for line in re.split(r"[\r\n]", screen) if re.search(r"100%\|.*\b6[13]\dk", line)]


def test_clap_download_shows_progress_on_a_terminal(hub, tmp_path):
    run = run_on_pty(["download", "unfused"], _env(hub, tmp_path / "hub"), tmp_path / "out.txt")
    assert run.returncode == 0, run.stderr
    assert _progress(run.stderr), run.stderr
    assert "Exception ignored" not in run.stderr and "Errno 9" not in run.stderr, run.stderr
    assert f"{REPO}: downloaded to " in run.stderr and run.stdout == ""


def test_clap_download_quiet_shows_nothing_on_a_terminal(hub, tmp_path):
    run = run_on_pty(["download", "unfused", "--quiet"], _env(hub, tmp_path / "hub"), tmp_path / "out.txt")
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "" and run.stdout == ""


def test_first_run_model_load_shows_download_progress(hub, tmp_path):
    env = _env(hub, tmp_path / "hub")
    run = run_on_pty(["embed", "--text", "a dog", "-m", REPO, "-f", "jsonl"], env, tmp_path / "out.jsonl")
    assert run.returncode == 0, run.stderr
    assert _progress(run.stderr), run.stderr
    assert '"embedding"' in run.stdout and "Exception ignored" not in run.stderr
    # the second run reads the cache: no download bar
    again = run_on_pty(["embed", "--text", "a dog", "-m", REPO, "-f", "jsonl"], env, tmp_path / "again.jsonl")
    assert again.returncode == 0 and not _progress(again.stderr), again.stderr


def test_first_run_quiet_shows_nothing(hub, tmp_path):
    run = run_on_pty(["embed", "--text", "a dog", "-m", REPO, "-f", "jsonl", "-q"], _env(hub, tmp_path / "hub"),
                     tmp_path / "out.jsonl")
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "" and '"embedding"' in run.stdout
