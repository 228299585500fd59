"""The example scripts run against the tiny checkpoint, so they never rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the examples are bash scripts")


@pytest.fixture()
def env(tiny_clap):
    return {**os.environ, "CLAPCLI_MODEL": str(tiny_clap), "CLAPCLI_DEVICE": "cpu", "PYTHON": sys.executable,
            "CLAP": f"{sys.executable} -m clapcli", "HF_HUB_OFFLINE": "1"}


def _run(script: str, *args, env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(EXAMPLES / script), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)


def test_classify_folder(audio_files, tmp_path, env):
    out = tmp_path / "predictions.csv"
    result = _run("classify_folder.sh", audio_files["flac"].parent, out, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(audio_files)
    assert all(line.split(",")[1] in {"dog barking", "rain", "speech", "music", "siren", "vacuum cleaner"}
               for line in lines)
    assert len(out.read_text().splitlines()) == 1 + 3 * len(audio_files)


def test_embed_and_join(audio_files, tmp_path, env):
    result = _run("embed_and_join.sh", audio_files["flac"].parent, tmp_path / "s.npy", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(audio_files)
    assert all(line.endswith("norm=1.000") for line in lines)


def test_ci_smoke_test_passes_and_fails(audio_files, env):
    probe = subprocess.run([sys.executable, "-m", "clapcli", "classify", str(audio_files["ogg"]), "--labels",
                            "dog barking,rain,speech,music", "--format", "csv", "--top-k", "1"],
                           env=env, capture_output=True, text=True, timeout=300)
    top = probe.stdout.splitlines()[1].split(",")[2]
    assert _run("ci_smoke_test.sh", audio_files["ogg"], top, env=env).returncode == 0
    other = "rain" if top != "rain" else "music"
    failed = _run("ci_smoke_test.sh", audio_files["ogg"], other, env=env)
    assert failed.returncode == 4 and "FAILED" in failed.stderr
