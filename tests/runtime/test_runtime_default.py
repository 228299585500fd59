"""The default runtime (auto), as a user meets it: a small job runs on torch and exports nothing; a job of
``EXPORT_PAYS_FROM`` files exports the model once (said in one line, with progress on a terminal) and gets
torch's vectors; every later job, big or small, runs on that export; ``--runtime torch`` and
``CLAPCLI_RUNTIME`` opt out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from terminal import run_on_terminal

from clapcli.models.runtime.auto import EXPORT_PAYS_FROM


@pytest.fixture(scope="module")
def big_job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of EXPORT_PAYS_FROM short clips: just enough for the default runtime to export."""
    import soundfile as sf

    directory = tmp_path_factory.mktemp("big-job")
    rng = np.random.default_rng(11)
    for index in range(EXPORT_PAYS_FROM):
        sf.write(directory / f"clip-{index:03d}.wav", 0.1 * rng.standard_normal(8000).astype(np.float32), 16000)
    return directory


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh clapcli home (no export cached) and no runtime asked for in the environment."""
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLAPCLI_RUNTIME", raising=False)
    return tmp_path / "home"


def _rows(result) -> dict[str, list[float]]:
    assert result.exit_code == 0, result.stderr
    return {row["path"]: row["embedding"] for row in map(json.loads, result.stdout.splitlines())}


def _exports(home: Path) -> list[Path]:
    return sorted((home / "exports").iterdir()) if (home / "exports").is_dir() else []


def test_a_small_job_runs_on_torch_and_exports_nothing(cli, home, sources, clips):
    result = cli(["embed", *clips, "--model", sources["laion-clap"], "-f", "jsonl"])
    assert len(_rows(result)) == len(clips)
    assert "export" not in result.stderr and _exports(home) == []


def test_a_big_job_exports_once_and_later_jobs_use_the_export(cli, home, sources, big_job, clips, monkeypatch):
    model = sources["laion-clap"]
    first = cli(["embed", big_job, "--model", model, "-f", "jsonl"])
    notes = [line for line in first.stderr.splitlines() if "export" in line]
    assert len(notes) == 1 and f"{EXPORT_PAYS_FROM} inputs pay for a one-time export" in notes[0], first.stderr
    (export,) = _exports(home)
    assert export.name.endswith("-openvino")
    torch_rows = _rows(cli(["embed", big_job, "--model", model, "-f", "jsonl", "--runtime", "torch"]))
    default_rows = _rows(first)
    assert default_rows.keys() == torch_rows.keys()
    for path, vector in torch_rows.items():  # paired by path, not by position
        np.testing.assert_allclose(default_rows[path], vector, atol=1e-5)

    def no_torch(*_args, **_kwargs):
        raise AssertionError("torch was loaded although an export is cached")

    monkeypatch.setattr("clapcli.models.torch_loader.load_torch", no_torch)
    small = cli(["embed", clips[0], "--model", model, "-f", "jsonl"])  # one file: the cached export serves it
    assert len(_rows(small)) == 1 and "export" not in small.stderr
    assert _exports(home) == [export]


@pytest.mark.parametrize("opt_out", [["--runtime", "torch"], ["--runtime", "TORCH"], "env"])
def test_torch_by_flag_or_environment(cli, home, sources, big_job, monkeypatch, opt_out):
    extra = opt_out if isinstance(opt_out, list) else []
    if opt_out == "env":
        monkeypatch.setenv("CLAPCLI_RUNTIME", "torch")
    result = cli(["embed", big_job, "--model", sources["laion-clap"], "-f", "jsonl", *extra])
    assert len(_rows(result)) == EXPORT_PAYS_FROM and _exports(home) == []


def test_a_flag_beats_the_environment(cli, home, sources, clips, monkeypatch):
    monkeypatch.setenv("CLAPCLI_RUNTIME", "openvino")  # would export even a one-file job
    result = cli(["embed", clips[0], "--model", sources["laion-clap"], "-f", "jsonl", "--runtime", "torch"])
    assert len(_rows(result)) == 1 and _exports(home) == []


def test_an_unknown_runtime_in_the_environment_is_one_line(cli, home, sources, clips, monkeypatch):
    monkeypatch.setenv("CLAPCLI_RUNTIME", "fastest")
    result = cli(["embed", clips[0], "--model", sources["laion-clap"]])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: CLAPCLI_RUNTIME=fastest: choose one of auto, torch, openvino, onnx, or unset it"]


def test_the_first_export_shows_progress_on_a_terminal(home, sources, big_job, tmp_path):
    out = tmp_path / "vectors.jsonl"
    run = run_on_terminal(["embed", big_job, "--model", sources["laion-clap"], "-f", "jsonl"], stdout_file=out,
                          env={"CLAPCLI_HOME": str(home), "CLAPCLI_RUNTIME": ""})
    assert run.returncode == 0, run.terminal
    assert "exporting" in run.terminal and "exporting once" in run.terminal  # the note, then the bar
    assert len(out.read_text().splitlines()) == EXPORT_PAYS_FROM  # data never went into the bar


def test_clap_models_says_which_runtime_and_why(cli, home, sources, big_job):
    from clapcli.models.runtime.auto import describe

    model = str(sources["laion-clap"])
    assert describe(model) == f"torch; openvino once a {EXPORT_PAYS_FROM}+ file job exports it"
    assert cli(["embed", big_job, "--model", model, "-q"]).exit_code == 0
    assert describe(model) == "openvino (export cached)"
    listed = cli(["models", "-f", "json"])
    assert listed.exit_code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {row["alias"]: row["runtime"] for row in rows}["audioldm2"] == "torch"
    assert all(row["runtime"] for row in rows)
    table = cli(["models", "-f", "table"])
    assert "runtime: with no --runtime" in table.stderr and "--runtime torch" in table.stderr


def test_the_python_api_uses_a_cached_export_and_never_exports_unasked(home, sources, big_job, cli):
    from clapcli import load_model

    model = str(sources["laion-clap"])
    assert type(load_model(model, device="cpu")).__name__ == "LaionClapBackend"  # nothing cached: torch
    assert _exports(home) == []
    assert cli(["embed", big_job, "--model", model, "-q"]).exit_code == 0
    assert load_model(model, device="cpu").runtime == "openvino"
    assert type(load_model(model, device="cpu", runtime="torch")).__name__ == "LaionClapBackend"


def test_torch_only_options_keep_torch_even_with_an_export_cached(home, sources, big_job, cli):
    from clapcli import load_model

    model = str(sources["laion-clap"])
    assert cli(["embed", big_job, "--model", model, "-q"]).exit_code == 0  # an export is cached now
    assert type(load_model(model, device="cpu", dtype="bfloat16")).__name__ == "LaionClapBackend"
    assert type(load_model(model, device="cpu", quantize="int8")).__name__ == "LaionClapBackend"
