"""The example scripts run against the tiny checkpoint, so they never rot."""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture()
def folder(audio_files, tmp_path) -> Path:
    """A small sound folder (each script run starts a fresh Python: keep it short)."""
    directory = tmp_path / "sounds"
    (directory / "sub").mkdir(parents=True)
    shutil.copy(audio_files["flac"], directory / "noise.flac")
    shutil.copy(audio_files["mp3"], directory / "sub" / "tone.mp3")
    (directory / "readme.txt").write_text("not audio")
    return directory


def test_classify_folder(folder, tmp_path, env):
    out = tmp_path / "predictions.csv"
    result = _run("classify_folder.sh", folder, out, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(",")[0] for line in lines] == [str(folder / "noise.flac"), str(folder / "sub" / "tone.mp3")]
    assert all(line.split(",")[1] in {"dog barking", "rain", "speech", "music", "siren", "vacuum cleaner"}
               for line in lines)
    assert len(out.read_text().splitlines()) == 1 + 3 * 2


def test_embed_and_join(folder, tmp_path, env):
    result = _run("embed_and_join.sh", folder, tmp_path / "s.npy", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(folder / "noise.flac"), str(folder / "sub" / "tone.mp3")]
    assert all(line.endswith("norm=1.000") for line in lines)


def test_ci_smoke_test_passes_and_fails(audio_files, env, cli, tiny_clap):
    probe = cli(["classify", audio_files["ogg"], "-m", tiny_clap, "--labels", "dog barking,rain,speech,music",
                 "--format", "csv", "--top-k", "1"])
    top = probe.stdout.splitlines()[1].split(",")[2]
    assert _run("ci_smoke_test.sh", audio_files["ogg"], top, env=env).returncode == 0
    other = "rain" if top != "rain" else "music"
    failed = _run("ci_smoke_test.sh", audio_files["ogg"], other, env=env)
    assert failed.returncode == 4 and "FAILED" in failed.stderr
