"""The Stable Audio 3 aliases against a hub (a local fake one serving the tiny release folder): the release is
downloaded in its stable-audio-tools form, converted once on first use and generated from; a gated release
is one line naming the licence page and the token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fake_hub_server import FakeHub  # noqa: E402
from tiny_sa3_original import build_release  # noqa: E402

REPO = "stabilityai/stable-audio-3-small-sfx"


@pytest.fixture(scope="module")
def release(tmp_path_factory, one_thread) -> Path:
    return build_release(tmp_path_factory.mktemp("sa3-hub") / "stable-audio-3-small-sfx")[0]


def _clap(args: list, hub: FakeHub, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env.update(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_DISABLE_XET="1",
               HF_HOME=str(tmp_path / "hf-home"), CLAPCLI_HOME=str(tmp_path / "home"))
    return subprocess.run([sys.executable, "-m", "clapcli", *map(str, args)], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=600)


def test_alias_downloads_converts_once_and_generates(release, tmp_path):
    hub = FakeHub({REPO: release})
    try:
        args = ["generate", "a door slams", "--seconds", "0.5", "--steps", "2", "--seed", "1", "-f", "json"]
        first = _clap([*args, "-m", "stable-audio-3-small-sfx", "-o", tmp_path / "a.wav"], hub, tmp_path)
        second = _clap([*args, "-m", "stable-audio-3-small-sfx", "-o", tmp_path / "b.wav"], hub, tmp_path)
    finally:
        hub.close()
    assert first.returncode == 0, first.stderr
    assert "converting Stable Audio 3 release stabilityai/stable-audio-3-small-sfx once" in first.stderr
    assert second.returncode == 0 and "converting" not in second.stderr
    assert any("t5gemma-b-b-ul2/" in request for request in hub.requests)  # the text encoder came from the repo
    converted = tmp_path / "home" / "converted" / "stabilityai--stable-audio-3-small-sfx"
    assert (converted / "model_index.json").is_file()
    assert np.array_equal(sf.read(tmp_path / "a.wav")[0], sf.read(tmp_path / "b.wav")[0])
    assert json.loads(first.stdout)[0]["seconds"] == 0.5


def test_gated_release_is_one_line(release, tmp_path):
    hub = FakeHub({REPO: release}, gated=(REPO,))
    try:
        result = _clap(["generate", "rain", "-m", "stable-audio-3-small-sfx", "-o", tmp_path / "x.wav"], hub,
                       tmp_path)
    finally:
        hub.close()
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: model '{REPO}' is gated: accept its licence at https://huggingface.co/{REPO}, then give a token "
        "with HF_TOKEN=... or 'hf auth login'"]
    assert not (tmp_path / "x.wav").exists()
