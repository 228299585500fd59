"""Stopping ``clap serve`` on purpose (SIGTERM from docker stop / systemd, or Ctrl-C) is a clean, quiet exit
(issue 23 item 14): it printed ``error: terminated`` and exited 143, because uvicorn shuts down on the
signal and then raises it again once its own handlers are gone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _start(library_db: Path) -> tuple[subprocess.Popen, str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "CLAPCLI_DEVICE": "cpu"}
    process = subprocess.Popen([sys.executable, "-m", "clapcli", "serve", "--db", str(library_db), "--port", "0"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    lines: list[str] = []
    url = None
    timer = threading.Timer(60, process.kill)  # a start-up that hangs ends the test, not the suite
    timer.start()
    try:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.append(line)
            found = re.search(r"open (http://127\.0\.0\.1:\d+)", line)
            if found:
                url = found.group(1)
                break
    finally:
        timer.cancel()
    assert url is not None, "".join(lines)
    return process, url, lines


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_server_exits_quietly(library_db, signum):
    process, url, lines = _start(library_db)
    try:
        with urllib.request.urlopen(f"{url}/api/collections", timeout=10) as answer:  # it serves
            assert answer.status == 200
        started = time.monotonic()
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert time.monotonic() - started < 20
    assert process.returncode == 0, stderr
    assert "error" not in stderr.lower() and "Traceback" not in stderr, stderr
    assert stdout == ""
