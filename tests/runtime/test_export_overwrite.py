"""clap export --overwrite replaces only a directory holding exactly what clap export wrote (issue 23, item 5),
and staging directories a killed export left behind are removed by the next export (item 8)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clapcli.models.runtime.manifest import MANIFEST_NAME


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture()
def export_copy(exports, tmp_path) -> Path:
    """A directory clap export wrote (ONNX), owned by this test."""
    return Path(shutil.copytree(exports["laion-clap", "onnx"], tmp_path / "out" / "exported"))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_overwrite_keeps_an_export_holding_a_user_file(cli, tiny_clap, export_copy):
    (export_copy / "notes.txt").write_text("my notes")
    before = _snapshot(export_copy)
    result = cli(["export", tiny_clap, export_copy, "--format", "onnx", "--overwrite"])
    assert result.exit_code == 1
    lines = _lines(result)
    assert len(lines) == 1 and "'notes.txt'" in lines[0] and str(export_copy) in lines[0]
    assert "did not write" in lines[0] and "remove it yourself or choose another" in lines[0]
    assert _snapshot(export_copy) == before
    assert sorted(p.name for p in export_copy.parent.iterdir()) == ["exported"]  # no staging left


def test_overwrite_keeps_a_checkpoint_stored_inside_an_export(cli, tiny_clap, export_copy):
    shutil.copytree(tiny_clap, export_copy / "checkpoint")
    before = _snapshot(export_copy)
    for source in (tiny_clap, export_copy / "checkpoint"):
        result = cli(["export", source, export_copy, "--format", "onnx", "--overwrite"])
        assert result.exit_code == 1, source
        assert len(_lines(result)) == 1 and str(export_copy) in result.stderr
    assert _snapshot(export_copy) == before


def test_overwrite_refuses_the_source_checkpoint_directory(cli, tiny_clap, export_copy):
    source = Path(shutil.copytree(tiny_clap, export_copy / "ckpt"))
    before = _snapshot(export_copy)
    for out in (source, export_copy):  # the checkpoint itself, and an export holding it
        result = cli(["export", source, out, "--format", "onnx", "--overwrite"])
        assert result.exit_code == 1
        lines = _lines(result)
        assert len(lines) == 1 and "holds the source model" in lines[0] and f"'{out}'" in lines[0]
    assert _snapshot(export_copy) == before


def test_overwrite_refuses_the_current_directory(cli, tiny_clap, export_copy, monkeypatch):
    (export_copy / "sub").mkdir()
    before = _snapshot(export_copy)
    for cwd, out in ((export_copy, "."), (export_copy / "sub", "..")):
        monkeypatch.chdir(cwd)
        result = cli(["export", tiny_clap, out, "--format", "onnx", "--overwrite"])
        assert result.exit_code == 1, out
        lines = _lines(result)
        assert len(lines) == 1 and "current directory" in lines[0] and f"'{out}'" in lines[0]
        assert "unexpected" not in lines[0]
    assert _snapshot(export_copy) == before


def test_overwrite_refuses_a_forged_manifest(cli, tiny_clap, tmp_path):
    folder = tmp_path / "forged"
    folder.mkdir()
    (folder / "thesis.txt").write_text("mine")
    (folder / MANIFEST_NAME).write_text("{}")
    result = cli(["export", tiny_clap, folder, "--format", "onnx", "--overwrite"])
    assert result.exit_code == 1 and len(_lines(result)) == 1
    assert "not written by clap export" in result.stderr
    assert (folder / "thesis.txt").read_text() == "mine"


def test_overwrite_replaces_exactly_what_it_wrote(cli, tiny_clap, export_copy):
    result = cli(["export", tiny_clap, export_copy, "--format", "openvino", "--overwrite", "--quiet"])
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((export_copy / MANIFEST_NAME).read_text())
    assert manifest["format"] == "openvino"
    assert sorted(p.name for p in export_copy.iterdir()) == sorted([*manifest["files"], MANIFEST_NAME])
    assert sorted(p.name for p in export_copy.parent.iterdir()) == ["exported"]  # no staging, no old copy


def test_a_file_appearing_during_the_export_is_kept(cli, tiny_clap, export_copy, monkeypatch):
    from clapcli.models.runtime import export as export_module

    real = export_module.measure_agreement

    def measure(model, work):
        (export_copy / "late.txt").write_text("saved while exporting")
        return real(model, work)

    monkeypatch.setattr(export_module, "measure_agreement", measure)
    result = cli(["export", tiny_clap, export_copy, "--format", "onnx", "--overwrite"])
    assert result.exit_code == 1 and "'late.txt'" in result.stderr
    assert (export_copy / "late.txt").read_text() == "saved while exporting"
    assert (export_copy / "audio.onnx").is_file()  # the old export is still there
    assert sorted(p.name for p in export_copy.parent.iterdir()) == ["exported"]


def test_staging_directories_of_a_killed_export_are_removed(cli, tiny_clap, tmp_path):
    out = tmp_path / "ov"
    dead, alive = _dead_pid(), os.getppid()
    stale = tmp_path / f".ov.{dead}.k3y.tmp"
    (stale / "_onnx").mkdir(parents=True)
    (stale / "_onnx" / "audio.onnx").write_bytes(b"\0" * 1000)
    running = tmp_path / f".ov.{alive}.k3y.tmp"  # another export still going
    running.mkdir()
    result = cli(["export", tiny_clap, out, "--format", "onnx", "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert not stale.exists() and running.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ov", running.name])


def test_a_new_export_follows_the_umask(cli, tiny_clap, tmp_path):
    old = os.umask(0o022)
    try:
        result = cli(["export", tiny_clap, tmp_path / "out", "--format", "onnx", "--quiet"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out").iterdir()} == {
        name: 0o644 for name in ("audio.onnx", "text.onnx", "tokenizer.json", MANIFEST_NAME)}
