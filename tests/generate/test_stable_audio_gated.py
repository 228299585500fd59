"""A gated model (Stable Audio Open is, under the Stability AI Community License) that the hub refuses: one
line naming HF_TOKEN, 'hf auth login' and the licence page; no traceback, no output file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fake_hub_server import FakeHub  # noqa: E402

REPO = "stabilityai/stable-audio-open-1.0"


def test_gated_model_without_token_is_one_line_and_no_file(tiny_sao, tmp_path):
    hub = FakeHub({REPO: tiny_sao}, gated=(REPO,))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
        env.update(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_DISABLE_XET="1",
                   HF_HOME=str(tmp_path / "hf-home"))  # no stored token either
        out = tmp_path / "out.wav"
        result = subprocess.run([sys.executable, "-m", "clapcli", "generate", "rain", "-m", "stable-audio-open",
                                 "-o", str(out)], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=300)
    finally:
        hub.close()
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: model '{REPO}' is gated: accept its licence at https://huggingface.co/{REPO}, then give a token "
        "with HF_TOKEN=... or 'hf auth login'"
    ]
    assert not out.exists()
    assert any(REPO in request for request in hub.requests)  # it was the hub that refused


def test_download_of_a_gated_model_names_the_licence_and_the_token(tiny_sao, tmp_path):
    hub = FakeHub({REPO: tiny_sao}, gated=(REPO,))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
        env.update(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_DISABLE_XET="1",
                   HF_HOME=str(tmp_path / "hf-home"))
        result = subprocess.run([sys.executable, "-m", "clapcli", "download", "stable-audio-open"], env=env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    finally:
        hub.close()
    assert result.returncode != 0
    assert f"accept its licence at https://huggingface.co/{REPO}, then give a token with HF_TOKEN=... or " \
           "'hf auth login'" in result.stderr
    assert "Traceback" not in result.stderr


def test_stable_audio_open_without_torchsde_names_the_extra(run, tiny_sao, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torchsde" else real(name, *a))
    out = tmp_path / "out.wav"
    result = run(["generate", "rain", "-m", tiny_sao, "-o", out])
    assert result.exit_code == 1
    assert result.stderr.strip() == ("error: this needs the optional package 'torchsde': "
                                     "pip install 'clapcli[generate]'")
    assert not out.exists()
