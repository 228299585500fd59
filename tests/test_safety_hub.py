"""A silent hub fails fast (issue 12, item 10); config.json problems are one line naming the model (item 12)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clapcli.models import hub

MODEL = "clapcli-test/never-cached"


class SilentServer:
    """Accepts TCP connections and never answers: the hub fault from the issue."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.settimeout(0.05)  # lets the thread notice stop(): close() does not wake accept()
        self.accepted: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture()
def silent_hub() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.stop()


@pytest.fixture()
def online_env(silent_hub, tmp_path, monkeypatch) -> SilentServer:
    """In-process: huggingface_hub read HF_ENDPOINT and HF_HUB_OFFLINE at import, so its constants are
    patched beside the environment; the probe memo starts empty."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", silent_hub.url)
    monkeypatch.setenv("CLAPCLI_HUB_TIMEOUT", "1")
    monkeypatch.setattr(constants, "ENDPOINT", silent_hub.url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(hub, "_unreachable", {}, raising=False)
    return silent_hub


def _error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


# --------------------------------------------------------------------------- item 10: a silent hub


def test_silent_hub_fails_fast_in_a_fresh_process(silent_hub, tmp_path) -> None:
    """The real thing: env read at import by a new process, default hub settings otherwise."""
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=silent_hub.url, HF_HOME=str(tmp_path / "hf"), CLAPCLI_HUB_TIMEOUT="1")
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "clapcli", "embed", "--text", "x", "--model", MODEL],
                            env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert result.returncode == 1, result.stderr
    lines = _error_lines(result)
    assert len(lines) == 1, result.stderr
    assert f"model '{MODEL}'" in lines[0] and "hub cannot be reached" in lines[0]
    assert f"{silent_hub.url} did not answer within 1 s" in lines[0] and "--model" in lines[0]
    assert elapsed < 30  # was > 10 minutes; ~1 s of probe plus interpreter start
    assert len(silent_hub.accepted) == 1  # probed once, then cache only: no retries


def test_silent_hub_turns_the_run_offline_after_one_probe(online_env, cli) -> None:
    from huggingface_hub import constants

    start = time.monotonic()
    for _ in range(2):
        result = cli(["embed", "--text", "x", "--model", MODEL])
        assert result.exit_code == 1
        lines = _error_lines(result)
        assert len(lines) == 1 and f"'{MODEL}'" in lines[0] and "did not answer within 1 s" in lines[0]
    assert time.monotonic() - start < 20
    assert len(online_env.accepted) == 1  # one probe per run and endpoint
    assert constants.HF_HUB_OFFLINE is True and hub.offline()  # transformers' own calls read the cache only


def test_convert_tokenizer_from_a_silent_hub_fails_fast(online_env, tmp_path) -> None:
    from clapcli.models.conversion import TokenizerUnavailable, load_tokenizer

    start = time.monotonic()
    with pytest.raises(TokenizerUnavailable) as error:
        load_tokenizer("clapcli-test/no-tokenizer", vocab_size=50257, expected="gpt2")
    assert time.monotonic() - start < 20
    assert "offline and not cached" in str(error.value) and "--tokenizer" in str(error.value)
    assert len(online_env.accepted) == 1


def test_a_hub_that_answers_is_not_offline(monkeypatch) -> None:
    """Any HTTP answer, even an error status, counts as reachable."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # else huggingface_hub's session refuses to connect
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        connection, _ = server.accept()
        connection.recv(4096)
        connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        connection.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        assert hub._probe(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=5) is None
    finally:
        thread.join(timeout=5)
        server.close()


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_bad_hub_timeout_is_a_usage_error(value, monkeypatch) -> None:
    from clapcli.errors import UsageError

    monkeypatch.setenv("CLAPCLI_HUB_TIMEOUT", value)
    with pytest.raises(UsageError, match="CLAPCLI_HUB_TIMEOUT"):
        hub.hub_timeout()


# --------------------------------------------------------------------------- item 12: config.json


@pytest.fixture()
def model_copy(tiny_clap, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_clap, tmp_path / "model"))


@pytest.mark.parametrize(("content", "kind"), [("[]", "array"), ('"x"', "string"), ("3", "number"),
                                               ("null", "null")])
def test_config_that_is_not_an_object(model_copy, cli, content, kind) -> None:
    (model_copy / "config.json").write_text(content)
    result = cli(["embed", "--text", "x", "--model", model_copy])
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1, result.stderr
    assert str(model_copy) in lines[0] and f"config.json holds a JSON {kind}" in lines[0]
    assert "unexpected" not in lines[0]


def test_config_with_wrong_shapes_names_the_weight(model_copy, cli) -> None:
    config = json.loads((model_copy / "config.json").read_text())
    config["text_config"]["intermediate_size"] = 48  # the weights have 64
    (model_copy / "config.json").write_text(json.dumps(config))
    result = cli(["embed", "--text", "x", "--model", model_copy])
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert str(model_copy) in line and "does not match its config.json" in line
    assert "above report" not in line
    assert "text_model.encoder.layer.0.intermediate.dense" in line and "(64, 32)" in line and "(48, 32)" in line
