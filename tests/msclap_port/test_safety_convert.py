"""``clap convert`` never destroys what it did not write (issue 12, item 1) and reads numpy-1 checkpoints
without running code (item 11)."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from msclap_reference import requires_reference
from typer.testing import CliRunner

from clapcli.cli import app
from clapcli.models import written_dir
from clapcli.models.conversion import output_dir
from clapcli.models.conversion.checkpoint import load_original_state_dict

pytestmark = requires_reference
runner = CliRunner()
MANIFEST = "clapcli-convert.json"


def _run(*args: str):
    return runner.invoke(app, ["convert", *map(str, args)])


def _error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def victim(msclap_original, tmp_path) -> Path:
    """A user's folder holding the checkpoint and their own work, as in the issue."""
    folder = tmp_path / "victim"
    folder.mkdir()
    shutil.copy(msclap_original[1], folder / "CLAP_weights_2023.pth")
    (folder / "thesis.txt").write_text("four years of work")
    return folder


@pytest.fixture(scope="module")
def converted(msclap_original, gpt2_tokenizer_dir, tmp_path_factory) -> Path:
    """A directory written by clap convert, copied by each test that replaces it."""
    output = tmp_path_factory.mktemp("converted") / "ms-hf"
    result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--quiet")
    assert result.exit_code == 0, result.stderr
    return output


def _copy_converted(converted: Path, destination: Path) -> Path:
    shutil.copytree(converted, destination)
    return destination


# --------------------------------------------------------------------------- item 1: refusals


def test_overwrite_refuses_the_folder_holding_the_checkpoint(victim, gpt2_tokenizer_dir) -> None:
    before = _snapshot(victim)
    result = _run("msclap", victim / "CLAP_weights_2023.pth", victim, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1 and "holds the checkpoint" in lines[0] and str(victim) in lines[0]
    assert _snapshot(victim) == before
    assert sorted(p.name for p in victim.parent.iterdir()) == ["victim"]  # no staging dir left behind


def test_overwrite_refuses_an_ancestor_of_the_checkpoint(victim, gpt2_tokenizer_dir) -> None:
    nested = victim / "models" / "ms"
    nested.mkdir(parents=True)
    shutil.move(victim / "CLAP_weights_2023.pth", nested / "CLAP_weights_2023.pth")
    before = _snapshot(victim)
    result = _run("msclap", nested / "CLAP_weights_2023.pth", victim, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
    assert result.exit_code == 1 and "holds the checkpoint" in result.stderr and len(_error_lines(result)) == 1
    assert _snapshot(victim) == before


def test_overwrite_refuses_the_checkpoint_folder_through_a_symlink(victim, gpt2_tokenizer_dir, tmp_path) -> None:
    link = tmp_path / "link-to-victim"
    link.symlink_to(victim)
    before = _snapshot(victim)
    result = _run("msclap", victim / "CLAP_weights_2023.pth", link, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
    assert result.exit_code == 1 and "holds the checkpoint" in result.stderr
    assert _snapshot(victim) == before


def test_overwrite_refuses_the_current_directory(msclap_original, gpt2_tokenizer_dir, tmp_path, monkeypatch) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "notes.txt").write_text("mine")
    before = _snapshot(work)
    for cwd, out in ((work, "."), (work / "sub", "..")):
        monkeypatch.chdir(cwd)
        result = _run("msclap", msclap_original[1], out, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
        assert result.exit_code == 1, out
        lines = _error_lines(result)
        assert len(lines) == 1 and "current directory" in lines[0] and f"'{out}'" in lines[0]
    assert _snapshot(work) == before
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt", "sub"]


def test_overwrite_refuses_a_directory_clapcli_did_not_write(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1 and "not written by clap convert" in lines[0] and str(output) in lines[0]
    assert (output / "keep.txt").read_text() == "mine"


def test_overwrite_refuses_a_converted_directory_with_a_user_file(converted, msclap_original, gpt2_tokenizer_dir,
                                                                   tmp_path) -> None:
    output = _copy_converted(converted, tmp_path / "ms-hf")
    (output / "thesis.txt").write_text("mine")
    (output / "notes").mkdir()
    before = _snapshot(output)
    result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1 and "'notes'" in lines[0] and "did not write" in lines[0]
    assert _snapshot(output) == before


def test_overwrite_refuses_a_forged_or_broken_manifest(converted, msclap_original, gpt2_tokenizer_dir,
                                                       tmp_path) -> None:
    output = _copy_converted(converted, tmp_path / "ms-hf")
    for text in ("[]", "{not json", json.dumps({"written_by": "someone else", "files": []})):
        (output / MANIFEST).write_text(text)
        result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
        assert result.exit_code == 1 and "not written by clap convert" in result.stderr, text
    assert (output / "model.safetensors").read_bytes() == (converted / "model.safetensors").read_bytes()


# --------------------------------------------------------------------------- item 1: what is replaced


def test_overwrite_replaces_a_converted_directory(converted, laion_unfused_original, roberta_tokenizer_dir,
                                                  tmp_path) -> None:
    output = _copy_converted(converted, tmp_path / "model")
    result = _run("laion", laion_unfused_original[1], output, "--tokenizer", roberta_tokenizer_dir, "--overwrite",
                  "--quiet")
    assert result.exit_code == 0, result.stderr
    assert json.loads((output / "config.json").read_text())["model_type"] == "clap"  # the new model, not msclap
    manifest = json.loads((output / MANIFEST).read_text())
    assert sorted(p.name for p in output.iterdir()) == sorted([*manifest["files"], MANIFEST])
    assert manifest["source"] == str(laion_unfused_original[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging or old copy left behind


def test_manifest_lists_exactly_what_was_written(converted) -> None:
    manifest = json.loads((converted / MANIFEST).read_text())
    assert manifest["written_by"] == "clapcli convert"
    assert sorted(p.name for p in converted.iterdir()) == sorted([*manifest["files"], MANIFEST])
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(manifest["files"])


def test_empty_output_directory_is_used_without_overwrite(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    output = tmp_path / "empty"
    output.mkdir()
    result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--quiet")
    assert result.exit_code == 0, result.stderr
    assert (output / "config.json").is_file() and (output / MANIFEST).is_file()


def test_failed_swap_keeps_the_old_directory(converted, msclap_original, gpt2_tokenizer_dir, tmp_path,
                                             monkeypatch) -> None:
    output = _copy_converted(converted, tmp_path / "ms-hf")
    (output / "config.json").write_text(json.dumps({"model_type": "msclap", "marker": "old"}))
    before = _snapshot(output)
    real_rename = written_dir._rename

    def rename(source: Path, destination: Path) -> None:
        if source.name.endswith(".tmp"):  # the new directory moving in
            raise OSError(28, "No space left on device")
        real_rename(source, destination)

    monkeypatch.setattr(written_dir, "_rename", rename)
    result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert len(lines) == 1 and "No space left" in lines[0] and str(output) in lines[0]
    assert _snapshot(output) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ms-hf"]


def test_file_added_during_conversion_is_kept(converted, msclap_original, gpt2_tokenizer_dir, tmp_path,
                                              monkeypatch) -> None:
    """The check is repeated right before the swap: a file saved into OUT meanwhile is never deleted."""
    output = _copy_converted(converted, tmp_path / "ms-hf")
    real_manifest = output_dir._write_manifest

    def write_manifest(folder: Path, source: str) -> None:
        real_manifest(folder, source)
        (output / "late.txt").write_text("saved while converting")

    monkeypatch.setattr(output_dir, "_write_manifest", write_manifest)
    result = _run("msclap", msclap_original[1], output, "--tokenizer", gpt2_tokenizer_dir, "--overwrite")
    assert result.exit_code == 1 and "'late.txt'" in result.stderr
    assert (output / "late.txt").read_text() == "saved while converting"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ms-hf"]


# --------------------------------------------------------------------------- item 11: numpy-1 checkpoints


def _rewrite_pickle(path: Path, old: bytes, new: bytes) -> None:
    """Edit data.pkl inside a torch zip checkpoint (GLOBAL opcodes are plain 'module\\nname\\n' text)."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for info, data in members:
            if info.filename.endswith("/data.pkl"):
                assert old in data
                data = data.replace(old, new)
            archive.writestr(info, data)
    path.write_bytes(buffer.getvalue())


def _laion_with_numpy_1_scalars(original: Path, destination: Path) -> Path:
    import numpy as np

    checkpoint = torch.load(original, weights_only=True)
    checkpoint.update(best_score=np.float64(0.25), epoch=np.int64(45))
    torch.save(checkpoint, destination)
    _rewrite_pickle(destination, b"numpy._core.multiarray\nscalar", b"numpy.core.multiarray\nscalar")
    return destination


def test_numpy_1_checkpoint_loads_and_converts(laion_unfused_original, roberta_tokenizer_dir, tmp_path) -> None:
    path = _laion_with_numpy_1_scalars(laion_unfused_original[1], tmp_path / "numpy1.pt")
    data = zipfile.ZipFile(path).read(next(n for n in zipfile.ZipFile(path).namelist() if n.endswith("data.pkl")))
    assert b"numpy.core.multiarray\nscalar" in data and b"numpy._core" not in data
    assert b"cnumpy\ndtype" in data  # dtype is referenced the same way by numpy 1 and 2
    result = _run("laion", path, tmp_path / "out", "--tokenizer", roberta_tokenizer_dir, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mapped_keys"] > 0 and (tmp_path / "out" / "model.safetensors").is_file()
    loaded = load_original_state_dict(path)
    assert set(loaded) == {key.removeprefix("module.") for key in torch.load(laion_unfused_original[1],
                                                                             weights_only=True)["state_dict"]}


class _SystemCall:
    marker: Path

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _NumpyReconstruct:
    """Names a numpy global outside the allow-list (ndarray reconstruction), the numpy-1 way."""

    def __reduce__(self):
        import numpy as np

        return (np.dtype, ("f8",))  # rewritten below to numpy.core.multiarray._reconstruct


def test_other_globals_stay_refused(msclap_original, tmp_path) -> None:
    payload = _SystemCall()
    payload.marker = tmp_path / "executed"
    path = tmp_path / "system.pth"
    torch.save({"model": payload}, path)
    result = _run("msclap", path, tmp_path / "out")
    assert result.exit_code == 1 and "arbitrary Python code" in result.stderr and len(_error_lines(result)) == 1
    assert not payload.marker.exists() and not (tmp_path / "out").exists()

    path = tmp_path / "reconstruct.pth"
    torch.save({"model": {"x": _NumpyReconstruct()}}, path)
    _rewrite_pickle(path, b"cnumpy\ndtype", b"cnumpy.core.multiarray\n_reconstruct")
    result = _run("msclap", path, tmp_path / "out")
    assert result.exit_code == 1 and "arbitrary Python code" in result.stderr


# --------------------------------------------------------------------------- issue 23, item 8: leftovers, modes


def test_staging_directories_of_a_killed_conversion_are_removed(msclap_original, gpt2_tokenizer_dir,
                                                                tmp_path) -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    stale = tmp_path / f".out.{child.pid}.0a1b2c3d.tmp"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"\0" * 4096)
    running = tmp_path / f".out.{os.getppid()}.0a1b2c3d.tmp"  # a conversion still going
    running.mkdir()
    result = _run("msclap", msclap_original[1], tmp_path / "out", "--tokenizer", gpt2_tokenizer_dir, "--quiet")
    assert result.exit_code == 0, result.stderr
    assert not stale.exists() and running.is_dir()


def test_converted_directory_follows_the_umask(msclap_original, gpt2_tokenizer_dir, tmp_path) -> None:
    old = os.umask(0o022)
    try:
        result = _run("msclap", msclap_original[1], tmp_path / "out", "--tokenizer", gpt2_tokenizer_dir, "--quiet")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out").iterdir()}
    assert modes["model.safetensors"] == 0o644 and set(modes.values()) == {0o644}
