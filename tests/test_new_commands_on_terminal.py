"""The commands added this release, run as users run them: stderr on a terminal (progress bars drawn),
stdout redirected to a file or a pipe. Rich's progress display redirects ``sys.stdout`` while it draws,
so data written to stdout during a bar would land on the terminal instead of the file."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from pathlib import Path

import pytest
from terminal import run_on_terminal

sys.path.insert(0, str(Path(__file__).parent / "eval"))
from eval_data import write_clip  # noqa: E402


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("terminal-sounds")
    for index, name in enumerate(["low", "mid"]):
        for take in range(4):
            write_clip(root / name / f"{take}.wav", 3 * index, 100 * index + take)
    shutil.copy(root / "low" / "0.wav", root / "low" / "0-copy.wav")  # a duplicate for dedupe to find
    return root


def test_dedupe_files_writes_its_csv_to_the_file_not_the_terminal(sounds, tiny_clap, tmp_path):
    target = tmp_path / "groups.csv"
    run = run_on_terminal(["dedupe", sounds, "--model", tiny_clap, "-f", "csv", "--no-fingerprint"],
                          stdout_file=target, env={"HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.terminal
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    grouped = {Path(row["path"]).name for row in rows}
    assert {"0.wav", "0-copy.wav"} <= grouped
    assert "0-copy.wav" not in run.terminal  # no data row was drawn on the terminal


def test_train_then_classify_with_a_probe_piped(sounds, tiny_clap, tmp_path):
    probe = tmp_path / "probe"
    trained = run_on_terminal(["train", sounds, "-o", probe, "--model", tiny_clap], env={"HF_HUB_OFFLINE": "1"})
    assert trained.returncode in (0, 3), trained.terminal
    assert (probe / "probe.json").is_file() and trained.stdout == b""
    files = sorted(sounds.rglob("*.wav"))
    run = run_on_terminal(["classify", *files, "--probe", probe, "-f", "jsonl"], env={"HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.terminal
    rows = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert [row["path"] for row in rows] == [str(f) for f in files]
    assert {p["label"] for row in rows for p in row["predictions"]} <= {"low", "mid"}
    assert '"predictions"' not in run.terminal
    frames = tmp_path / "frames.csv"
    detect = run_on_terminal(["detect", files[0], "--probe", probe, "--window", "0.2", "--hop", "0.1", "--threshold",
                              "0", "-f", "jsonl", "--frames", frames], env={"HF_HUB_OFFLINE": "1"})
    assert detect.returncode == 0, detect.terminal
    events = [json.loads(line) for line in detect.stdout.decode().splitlines()]
    assert {event["label"] for event in events} == {"low", "mid"}  # threshold 0: every class fires
    assert list(csv.DictReader(io.StringIO(frames.read_text())))[0].keys() >= {"low", "mid"}
    assert '"onset"' not in detect.terminal


def test_config_get_to_a_pipe(tmp_path):
    env = {"CLAPCLI_CONFIG": str(tmp_path / "c.toml")}
    assert run_on_terminal(["config", "set", "runtime", "torch"], env=env).returncode == 0
    got = run_on_terminal(["config", "get", "runtime"], env=env)
    assert got.stdout == b"torch\n" and "torch" not in got.terminal.replace("runtime", "")
