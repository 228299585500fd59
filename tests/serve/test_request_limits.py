"""Work per request is bounded (texts, labels, k, text length) and slow clients are timed out.

The timeouts are checked against a real ``clap serve`` process on 127.0.0.1 with raw sockets that
send half a request; every socket read is bounded, so a regression fails in seconds, never hangs.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clapcli.serve.app import MAX_K, MAX_LABELS, MAX_TEXT_CHARS, MAX_TEXTS

REPO = Path(__file__).resolve().parents[2]


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_limits_are_the_documented_numbers() -> None:
    assert (MAX_TEXTS, MAX_LABELS, MAX_K, MAX_TEXT_CHARS) == (256, 256, 1000, 1000)
    doc = (REPO / "docs" / "serve.md").read_text()
    for number in ("256 texts", "256 labels", "1000 hits", "1000 characters", "600 s", "50 MB"):
        assert number in doc, number


def test_too_many_texts_are_refused(client) -> None:
    message = error_of(client.post("/api/embed/text", json={"texts": ["a dog"] * (MAX_TEXTS + 1)}), 413)
    assert message == f"257 texts in one request; send at most {MAX_TEXTS} per request"
    assert len(client.post("/api/embed/text", json={"texts": ["a dog"] * MAX_TEXTS}).json()["vectors"]) == MAX_TEXTS


def test_too_many_labels_are_refused(client, audio_files) -> None:
    clip = audio_files["mp3"]
    labels = ",".join(f"label {i}" for i in range(MAX_LABELS + 1))
    message = error_of(client.post("/api/classify", files={"file": (clip.name, clip.read_bytes())},
                                   data={"labels": labels}), 413)
    assert message == f"257 labels in one request; send at most {MAX_LABELS} per request"


@pytest.mark.parametrize("request_of", [
    lambda c: c.get("/api/search/text", params={"q": "x" * (MAX_TEXT_CHARS + 1)}),
    lambda c: c.post("/api/embed/text", json={"texts": ["ok", "x" * (MAX_TEXT_CHARS + 1)]}),
])
def test_overlong_texts_are_refused(client, request_of) -> None:
    assert f"at most {MAX_TEXT_CHARS} characters" in error_of(request_of(client), 422)


def test_overlong_labels_and_template_are_refused(client, audio_files) -> None:
    clip = audio_files["mp3"]
    for form in ({"labels": "a, " + "b" * (MAX_TEXT_CHARS + 1)},
                 {"labels": "a, b", "template": "{} " + "x" * MAX_TEXT_CHARS}):
        message = error_of(client.post("/api/classify", files={"file": (clip.name, clip.read_bytes())}, data=form),
                           422)
        assert f"at most {MAX_TEXT_CHARS} characters" in message


@pytest.mark.parametrize("route", ["/api/search/text?q=x&k=1001", "/api/search/similar/1?k=1001"])
def test_k_is_capped(client, route: str) -> None:
    assert "k" in error_of(client.get(route), 422)


# ---------------------------------------------------------------- slow clients, against a real server


@pytest.fixture(scope="module")
def server(library_db: Path):
    """``clap serve --port 0 --request-timeout 1``; yields (host, port)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "CLAPCLI_DEVICE": "cpu"}
    process = subprocess.Popen([sys.executable, "-m", "clapcli", "serve", "--db", str(library_db), "--port", "0",
                                "--request-timeout", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    lines = []
    found = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and found is None:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"open http://127\.0\.0\.1:(\d+)", line)
    assert found is not None, "".join(lines)
    yield "127.0.0.1", int(found.group(1))
    process.terminate()
    process.wait(20)


def answer_within(address: tuple[str, int], sent: bytes, seconds: float = 8.0) -> tuple[bytes, float]:
    """What the server sends back (until it closes) after ``sent``, and after how long; fails
    instead of hanging when the server keeps the connection open past ``seconds``."""
    with socket.create_connection(address, timeout=seconds) as sock:
        sock.sendall(sent)
        started = time.monotonic()
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pytest.fail(f"the server still held the half-sent request after {seconds} s")
        except ConnectionResetError:
            pass
        return received, time.monotonic() - started


@pytest.mark.parametrize("sent", [
    b"",  # connected, nothing sent
    b"GET /api/collections HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never finished
    b"POST /api/embed/text HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n{\"texts\": [",  # body never finished
])
def test_a_half_sent_request_is_timed_out(server, sent: bytes) -> None:
    received, waited = answer_within(server, sent)
    assert 0.5 <= waited < 5, waited
    assert received == b"" or received.startswith(b"HTTP/1.1 408"), received[:200]
    if received:
        assert b'{"error": "the request did not arrive within 1 s' in received


def test_the_server_keeps_serving_after_timeouts(server) -> None:
    received, _ = answer_within(server, b"GET /api/collections HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       b"Connection: close\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200") and b'"name":"default"' in received
