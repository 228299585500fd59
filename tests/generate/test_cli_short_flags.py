"""``clap generate``'s short flags do not clash with the other commands' (issue 14): -L is --seconds and
-b is --candidates (-t is --text and -c is --collection elsewhere); the old -t / -c still work for one
release, with a deprecation warning."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import SECONDS, STEPS

COMMON = ["generate", "a dog barking", "--model", "tiny", "--steps", STEPS, "--seed", 5, "--format", "json"]


def _summary(run, args: list, out: Path, quiet: bool = True):
    result = run([*COMMON, *args, "-o", out, *(["--quiet"] if quiet else [])])
    assert result.exit_code == 0, result.stderr
    return result, json.loads(result.stdout)[0]


def test_new_short_flags_mean_seconds_and_candidates(run, shared_generator, tmp_path: Path):
    _, long = _summary(run, ["--seconds", SECONDS, "--candidates", 2], tmp_path / "long.wav")
    _, short = _summary(run, ["-L", SECONDS, "-b", 2], tmp_path / "short.wav")
    assert len(short["candidate_scores"]) == 2 and short["candidate_scores"] == long["candidate_scores"]
    assert (tmp_path / "short.wav").read_bytes() == (tmp_path / "long.wav").read_bytes()


def test_old_short_flags_still_work_with_a_warning(run, shared_generator, tmp_path: Path):
    _, new = _summary(run, ["-L", SECONDS, "-b", 2], tmp_path / "new.wav")
    result, old = _summary(run, ["-t", SECONDS, "-c", 2], tmp_path / "old.wav", quiet=False)
    assert old["candidate_scores"] == new["candidate_scores"]
    assert (tmp_path / "old.wav").read_bytes() == (tmp_path / "new.wav").read_bytes()
    stderr = " ".join(result.stderr.split())
    assert "warning: -t is now --seconds (-L)" in stderr and "warning: -c is now --candidates (-b)" in stderr
    quiet, _ = _summary(run, ["-t", SECONDS], tmp_path / "quiet.wav")
    assert quiet.stderr == ""


def test_old_and_new_spelling_together_is_a_usage_error(run, tmp_path: Path):
    result = run([*COMMON, "-t", SECONDS, "--seconds", SECONDS, "-o", tmp_path / "x.wav", "--quiet"])
    assert result.exit_code == 2 and "give --seconds once" in result.stderr
    result = run([*COMMON, "-c", 2, "-b", 3, "-o", tmp_path / "x.wav", "--quiet"])
    assert result.exit_code == 2 and "give --candidates once" in result.stderr


def test_help_shows_the_new_flags_only(cli):
    text = cli(["generate", "--help"], env={"COLUMNS": "200"}).stdout
    assert "--seconds" in text and "-L" in text and "--candidates" in text and "-b" in text
    assert " -t " not in text and " -c " not in text
