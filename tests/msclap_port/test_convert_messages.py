"""``clap convert`` names what is wrong with the file: corrupt or non-torch bytes are "not a readable
PyTorch checkpoint" (never "needs arbitrary Python code"), and a checkpoint of the other family says
which family it looks like (issue #14)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from msclap_reference import requires_reference
from typer.testing import CliRunner

from clapcli.cli import app

pytestmark = requires_reference
runner = CliRunner()


def _run(*args: object):
    return runner.invoke(app, ["convert", *map(str, args)])


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return " ".join(result.stderr.split())


def _truncated(tmp_path: Path, original: Path) -> Path:
    data = original.read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 2])
    return path


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["random", "text", "truncated", "plain_pickle", "npy", "empty"])
def test_unreadable_file_is_not_called_unsafe(kind: str, msclap_original, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    if kind == "random":
        path = _write(tmp_path, "random.pth", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "text":
        path = _write(tmp_path, "notes.pth", b"these are not weights\n" * 20)
    elif kind == "truncated":
        path = _truncated(tmp_path, msclap_original[1])
    elif kind == "plain_pickle":
        path = _write(tmp_path, "plain.pth", pickle.dumps({"model": [1, 2, 3]}, protocol=4))
    elif kind == "npy":
        np.save(tmp_path / "array.npy", np.zeros(3))
        path = (tmp_path / "array.npy").rename(tmp_path / "array.pth")
    else:
        path = _write(tmp_path, "empty.pth", b"")
    result = _run("msclap", path, tmp_path / "out")
    assert result.exit_code == 1, result.stderr
    message = _one_error_line(result)
    assert f"checkpoint '{path}' is not a readable PyTorch checkpoint" in message
    assert "arbitrary Python code" not in message
    assert not (tmp_path / "out").exists()


def test_msclap_checkpoint_given_as_laion_names_msclap(msclap_original, tmp_path: Path) -> None:
    result = _run("laion", msclap_original[1], tmp_path / "out")
    assert result.exit_code == 1, result.stderr
    message = _one_error_line(result)
    assert "looks like the msclap family, not laion" in message
    assert f"clap convert msclap {msclap_original[1]}" in message
    assert "audio_encoder." in message and "caption_encoder." in message
    assert not (tmp_path / "out").exists()


def test_laion_checkpoint_given_as_msclap_names_laion(laion_unfused_original, tmp_path: Path) -> None:
    result = _run("msclap", laion_unfused_original[1], tmp_path / "out")
    assert result.exit_code == 1, result.stderr
    message = _one_error_line(result)
    assert "looks like the laion family, not msclap" in message
    assert f"clap convert laion {laion_unfused_original[1]}" in message
    assert "audio_branch." in message and "text_branch." in message


def test_right_family_still_converts(laion_unfused_original, roberta_tokenizer_dir, tmp_path: Path) -> None:
    result = _run("laion", laion_unfused_original[1], tmp_path / "out", "--tokenizer", roberta_tokenizer_dir)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_pickle_naming_code_is_still_refused_as_code(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "code.pth"
    torch.save({"model": Payload()}, path)
    result = _run("msclap", path, tmp_path / "out")
    assert result.exit_code == 1
    message = _one_error_line(result)
    assert "needs arbitrary Python code" in message and "GLOBAL print" in message
