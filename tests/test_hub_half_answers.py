"""A hub that half-answers ends the run in seconds (issue 24 item 8): the probe is answered, then a request
stalls, or a file download stalls or trickles. Each run gets CLAPCLI_HUB_TIMEOUT=2 and must end with one
line naming the model and what to do; a stalled download says how much arrived and how to resume."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from fake_hub_server import FakeHub
from pty_run import run_on_pty

REPO = "clapcli-test/half-answered"
BUDGET = "2"
LIMIT = 40.0  # seconds: a hang (the bug) fails here instead of after minutes


@pytest.fixture
def make_hub(tiny_clap):
    servers: list[FakeHub] = []

    def make(fault: str, answered: int = 1) -> FakeHub:
        server = FakeHub({REPO: tiny_clap}, fault=fault, answered=answered)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def _env(hub: FakeHub, cache, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                                                            "HF_HUB_DISABLE_PROGRESS_BARS")}
    return {**env, "HF_ENDPOINT": hub.url, "HF_HOME": str(cache.parent / "hf-home"), "HF_HUB_CACHE": str(cache),
            "HF_HUB_DISABLE_XET": "1",
            "CLAPCLI_HUB_TIMEOUT": BUDGET, "COLUMNS": "100", **extra}


def _clap(*args: object, env: dict) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "clapcli", *map(str, args)], env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=LIMIT)
    return result, time.monotonic() - start


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def wav(audio_files):
    return audio_files["wav_pcm_16"]


@pytest.mark.parametrize("answered", [1, 2])
def test_classify_when_the_hub_stops_answering_after_the_probe(make_hub, wav, tmp_path, answered):
    # 1: the probe is answered, nothing after it; 2: also huggingface_hub's own first request (a telemetry
    # GET, when it makes one), so the stall meets the first file request
    hub = make_hub("stall", answered=answered)
    result, seconds = _clap("classify", wav, "-l", "a,b", "--model", REPO, env=_env(hub, tmp_path / "hub"))
    assert result.returncode == 1, result.stderr
    lines = _lines(result.stderr)
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert f"'{REPO}'" in line and "stopped answering" in line and f"within {BUDGET} s" in line, line
    assert f"clap download {REPO}" in line and "HF_HUB_OFFLINE=1" in line, line
    assert seconds < 20, seconds
    assert len(hub.requests) <= 4, hub.requests  # no retries against a stalled hub


@pytest.mark.parametrize("fault", ["trickle", "stall-body"])
def test_classify_when_file_downloads_stall_or_trickle(make_hub, wav, tmp_path, fault):
    hub = make_hub(fault)
    result, seconds = _clap("classify", wav, "-l", "a,b", "--model", REPO, env=_env(hub, tmp_path / "hub"))
    assert result.returncode == 1, result.stderr
    lines = _lines(result.stderr)
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert f"'{REPO}'" in line and "config.json" in line and "got " in line and " of " in line, line
    assert "run the same command again to resume" in line and f"clap download {REPO}" in line, line
    assert seconds < 20, seconds


@pytest.mark.parametrize("fault", ["trickle", "stall-body"])
def test_download_that_stalls_says_how_much_it_got_on_a_terminal(make_hub, tmp_path, fault):
    hub = make_hub(fault)
    run = run_on_pty(["download", REPO], _env(hub, tmp_path / "hub"), tmp_path / "out.txt", timeout=LIMIT)
    assert run.returncode == 1, run.stderr  # every model failed
    assert run.seconds < 25, run.seconds
    screen = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", run.stderr).replace("\r", "\n")
    failed = [line.strip() for line in screen.splitlines() if "failed: " in line]
    assert len(failed) == 1, run.stderr
    line = failed[0]
    assert line.startswith(f"failed: {REPO}: ") and "got " in line and " of " in line, line
    assert "run the same command again to resume" in line, line
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr
    assert run.stdout == ""


def test_download_when_the_hub_stops_answering_after_the_probe(make_hub, tmp_path):
    hub = make_hub("stall", answered=1)
    result, seconds = _clap("download", REPO, env=_env(hub, tmp_path / "hub"))
    assert result.returncode == 1, result.stderr
    lines = _lines(result.stderr)
    assert len(lines) == 2 and lines[0].startswith(f"failed: {REPO}: "), result.stderr
    assert lines[1] == "error: every input failed (1 input, each named above)"
    assert "stopped answering" in lines[0] and f"within {BUDGET} s" in lines[0], lines[0]
    assert seconds < 20, seconds


def test_a_cached_model_loads_when_the_hub_stalls(make_hub, tiny_clap, wav, tmp_path):
    """The stall turns the run offline: a model in the cache is used, nothing is waited for twice."""
    cache = tmp_path / "hub"
    healthy = FakeHub({REPO: tiny_clap})
    try:
        fetched, _ = _clap("download", REPO, env=_env(healthy, cache))
    finally:
        healthy.close()
    assert fetched.returncode == 0, fetched.stderr
    hub = make_hub("stall", answered=2)
    result, seconds = _clap("classify", wav, "-l", "a,b", "--model", REPO, "-q", env=_env(hub, cache))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and wav.name in result.stdout
    assert seconds < 20, seconds
