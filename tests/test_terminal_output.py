"""Output goes where you sent it: typed in a terminal (stderr a terminal, the progress bar drawn there),
with stdout redirected to a file or a pipe, every row reaches stdout, in LF-terminated lines."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from terminal import run_on_terminal  # noqa: E402


@pytest.fixture(scope="module")
def sounds(audio_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of eight files, enough for the progress bar to be drawn between rows."""
    directory = tmp_path_factory.mktemp("sounds")
    source = audio_files["wav_pcm_16"].read_bytes()
    for number in range(8):
        (directory / f"clip{number}.wav").write_bytes(source)
    return directory


def test_classify_redirected_to_a_file_keeps_every_row(tiny_clap: Path, sounds: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    run = run_on_terminal(["classify", sounds, "-l", "a,b", "--model", tiny_clap], stdout_file=out)
    assert run.returncode == 0, run.terminal
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(Path(row["path"]).name for row in rows if row["rank"] == "1") == [f"clip{n}.wav" for n in range(8)]
    assert "clip0.wav" not in run.terminal  # the data went to the file, not onto the terminal


def test_embed_jsonl_to_a_pipe_closed_early_gets_its_lines(tiny_clap: Path, sounds: Path) -> None:
    run = run_on_terminal(["embed", sounds, "-f", "jsonl", "--model", tiny_clap], read_lines=3)
    lines = run.stdout.decode().splitlines()
    assert len(lines) == 3
    assert all(len(json.loads(line)["embedding"]) > 0 for line in lines)
    assert '"embedding"' not in run.terminal


def test_detect_redirected_to_a_file_keeps_every_event(tiny_clap: Path, sounds: Path, tmp_path: Path) -> None:
    out = tmp_path / "events.csv"
    run = run_on_terminal(["detect", sounds, "-l", "a,b", "--threshold", "0", "--model", tiny_clap],
                          stdout_file=out)
    assert run.returncode == 0, run.terminal
    sources = {Path(row["path"]).name for row in csv.DictReader(io.StringIO(out.read_text()))}
    assert sources == {f"clip{n}.wav" for n in range(8)}


def test_csv_lines_end_in_lf(cli, tiny_clap: Path, audio_files: dict[str, Path], tmp_path: Path) -> None:
    result = cli(["classify", audio_files["wav_pcm_16"], "-l", "a,b", "--model", tiny_clap, "-f", "csv"])
    assert result.exit_code == 0
    assert "\r" not in result.stdout
    out = tmp_path / "p.csv"
    assert cli(["classify", audio_files["wav_pcm_16"], "-l", "a,b", "--model", tiny_clap, "-o", out]).exit_code == 0
    assert b"\r" not in out.read_bytes()
    assert out.read_bytes().count(b"\n") == 3
