"""Derived files (exports cached under CLAPCLI_HOME, int8 copies, OpenVINO's compiled towers) are keyed on
the content of what they come from, never on its modification time alone (issue 24, item 7): weights
replaced with their old mtime kept (``cp -p``, ``rsync -a``, an unpacked archive) are used, not the old
derived files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from tiny_models import build_tiny_clap

from clapcli.models import fingerprint


def _replace_keeping_mtime(target: Path, new: Path) -> None:
    """Overwrite ``target`` with ``new``'s bytes and put its old times back, as ``cp -p`` of an older file does."""
    old = target.stat()
    shutil.copyfile(new, target)
    os.utime(target, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert target.stat().st_mtime_ns == old.st_mtime_ns


def _embedded(cli, model, clips, *extra) -> np.ndarray:
    result = cli(["embed", clips[1], "--text", "a dog barking", "--model", model, "-f", "jsonl", *extra])
    assert result.exit_code == 0, result.stderr
    return np.array([json.loads(line)["embedding"] for line in result.stdout.splitlines()])


@pytest.fixture(scope="module")
def other_weights(tmp_path_factory) -> Path:
    return build_tiny_clap(tmp_path_factory.mktemp("other") / "tiny-clap-7", seed=7)


def test_runtime_onnx_re_exports_weights_replaced_with_their_old_mtime(cli, tiny_clap, other_weights, clips,
                                                                       tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    checkpoint = Path(shutil.copytree(tiny_clap, tmp_path / "ckpt"))
    before = _embedded(cli, checkpoint, clips, "--runtime", "onnx")
    _replace_keeping_mtime(checkpoint / "model.safetensors", other_weights / "model.safetensors")
    after = _embedded(cli, checkpoint, clips, "--runtime", "onnx")
    torch_now = _embedded(cli, checkpoint, clips, "--runtime", "torch")
    assert np.abs(after - torch_now).max() <= 1e-5  # the new weights
    assert np.abs(before - after).max() > 1e-3


def test_int8_copy_follows_the_content_of_the_tower(cli, exports, clips, other_weights, tmp_path, monkeypatch):
    from clapcli.models.runtime.export import export_model

    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    export = Path(shutil.copytree(exports["laion-clap", "onnx"], tmp_path / "export"))
    before = _embedded(cli, export, clips, "--precision", "int8")
    export_model(str(other_weights), tmp_path / "other", "onnx")
    _replace_keeping_mtime(export / "text.onnx", tmp_path / "other" / "text.onnx")  # same graph, other weights
    after = _embedded(cli, export, clips, "--precision", "int8")
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "fresh-home"))  # no cache: the truth
    np.testing.assert_array_equal(after, _embedded(cli, export, clips, "--precision", "int8"))
    assert np.abs(before - after).max() > 1e-3


def test_openvino_cache_notices_a_truncated_bin(cli, exports, clips, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    export = Path(shutil.copytree(exports["laion-clap", "openvino"], tmp_path / "export"))
    _embedded(cli, export, clips)  # the compile cache is warm now
    bin_file = export / "audio.bin"
    old = bin_file.stat()
    with open(bin_file, "r+b") as handle:
        handle.truncate(old.st_size // 2)
    os.utime(bin_file, ns=(old.st_atime_ns, old.st_mtime_ns))
    result = cli(["embed", clips[1], "--model", export, "-f", "jsonl"])
    assert result.exit_code == 1, result.stdout
    assert "audio" in result.stderr and "not a readable OpenVINO model" in result.stderr


def test_openvino_cache_follows_the_weights(cli, exports, clips, other_weights, tmp_path, monkeypatch):
    from clapcli.models.runtime.export import export_model

    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    export = Path(shutil.copytree(exports["laion-clap", "openvino"], tmp_path / "export"))
    before = _embedded(cli, export, clips)
    export_model(str(other_weights), tmp_path / "other", "openvino")
    _replace_keeping_mtime(export / "audio.bin", tmp_path / "other" / "audio.bin")  # same graph, other weights
    after = _embedded(cli, export, clips)
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "fresh-home"))
    np.testing.assert_array_equal(after, _embedded(cli, export, clips))
    assert np.abs(before - after).max() > 1e-3


def test_a_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"a" * 4096)
    calls: list[Path] = []
    real = fingerprint._sha256
    monkeypatch.setattr(fingerprint, "_sha256", lambda path: calls.append(path) or real(path))
    first = fingerprint.file_digest(weights)
    fingerprint.forget_memo()  # as a new process: read back from $CLAPCLI_HOME
    assert fingerprint.file_digest(weights) == first and len(calls) == 1
    _replace_keeping_mtime(weights, _written(tmp_path / "new", b"b" * 4096))  # same size, same mtime
    assert fingerprint.file_digest(weights) != first and len(calls) == 2  # the ctime moved: hashed again


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
