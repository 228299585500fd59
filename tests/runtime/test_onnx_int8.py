"""--precision int8 on ONNX Runtime: the export's towers quantized once (dynamic int8 of the MatMuls) into
clapcli's cache, never into the export directory; close to float32, refused with a clear line where it can't run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clapcli.models.runtime import onnx_backend


def embedded(cli, model, clips, *extra) -> dict[str, np.ndarray]:
    result = cli(["embed", *clips, "--text", "a dog barking", "--text", "rain", "--model", model, "-f", "jsonl",
                  *extra])
    assert result.exit_code == 0, result.stderr
    return {row["path"] or row["text"]: np.array(row["embedding"])
            for row in map(json.loads, result.stdout.splitlines())}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("family", ["laion-clap", "msclap"])
def test_int8_is_close_to_float32_and_leaves_the_export_untouched(cli, exports, clips, family, monkeypatch,
                                                                  tmp_path):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    export = exports[family, "onnx"]
    before = {p.name: p.stat().st_mtime_ns for p in export.iterdir()}
    exact = embedded(cli, export, clips)
    int8 = embedded(cli, export, clips, "--precision", "int8")
    assert exact.keys() == int8.keys() and len(exact) == 5
    for key in exact:
        assert cosine(exact[key], int8[key]) >= 0.99, key  # quantized weights: close, not equal
    assert any(np.abs(exact[k] - int8[k]).max() > 1e-6 for k in exact)  # really quantized
    assert {p.name: p.stat().st_mtime_ns for p in export.iterdir()} == before
    copies = sorted(p.name for p in onnx_backend.int8_cache().rglob("*.onnx"))
    assert copies == ["audio.onnx", "text.onnx"]  # in clapcli's cache, one per tower


def test_int8_copy_is_made_once_and_reused(cli, exports, clips, monkeypatch):
    export = exports["laion-clap", "onnx"]
    embedded(cli, export, clips[:1], "--precision", "int8")
    calls = []
    monkeypatch.setattr(onnx_backend, "_quantize", lambda *args: calls.append(args))
    again = embedded(cli, export, clips[:1], "--precision", "int8")
    assert calls == [] and len(again) == 3


def test_a_failed_quantization_leaves_no_copy_and_says_what_to_do(cli, exports, clips, monkeypatch, tmp_path):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))

    def broken(quantize_dynamic, weight_type, source, target):
        target.write_bytes(b"half a model")
        raise ValueError("unsupported graph")

    monkeypatch.setattr(onnx_backend, "_quantize", broken)
    result = cli(["embed", clips[0], "--model", exports["laion-clap", "onnx"], "--precision", "int8", "-f", "jsonl"])
    assert result.exit_code == 1
    assert "cannot quantize" in result.stderr and "unsupported graph" in result.stderr
    assert "--precision exact" in result.stderr
    assert not list((tmp_path / "home" / "onnx-int8").rglob("*.onnx"))  # nothing half-written left to reuse


def test_int8_cache_not_writable_is_one_line(cli, exports, clips, monkeypatch, tmp_path):
    blocker = tmp_path / "home"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("CLAPCLI_HOME", str(blocker))
    result = cli(["embed", clips[0], "--model", exports["laion-clap", "onnx"], "--precision", "int8", "-f", "jsonl"])
    assert result.exit_code == 1
    assert "cannot write the int8 copy of" in result.stderr and "CLAPCLI_HOME" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_runtime_onnx_int8_from_the_source_checkpoint(cli, sources, clips):
    """--runtime onnx --precision int8 on a torch checkpoint: exported into the cache, then quantized; close
    to torch's float32."""
    exact = embedded(cli, sources["laion-clap"], clips[:2])
    int8 = embedded(cli, sources["laion-clap"], clips[:2], "--runtime", "onnx", "--precision", "int8")
    assert exact.keys() == int8.keys() and all(cosine(exact[k], int8[k]) >= 0.99 for k in exact)


def test_int8_writes_nothing_into_a_read_only_export(cli, exports, clips, monkeypatch, tmp_path):
    """The quantizer's shape inference writes NAME-inferred.onnx beside the model it is given: that must be
    a copy in the cache, never the export (read-only, shared, or simply not ours to write)."""
    import errno

    import onnx.shape_inference

    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    export = exports["msclap", "onnx"]
    real = onnx.shape_inference.infer_shapes_path
    written: list[str] = []

    def read_only_export(model_path, output_path="", *args, **kwargs):
        written.append(str(output_path))
        if str(output_path).startswith(str(export)):  # as a read-only mount answers (root ignores chmod)
            raise OSError(errno.EROFS, "Read-only file system", str(output_path))
        return real(model_path, output_path, *args, **kwargs)

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes_path", read_only_export)
    before = sorted(p.name for p in export.iterdir())
    int8 = embedded(cli, export, clips[:1], "--precision", "int8")
    assert len(int8) == 3 and written  # the quantizer ran, and inferred shapes somewhere
    assert not [path for path in written if path.startswith(str(export))]
    assert any(path.startswith(str(tmp_path / "home" / "onnx-int8")) for path in written), written  # beside a copy
    assert sorted(p.name for p in export.iterdir()) == before
    assert sorted(p.name for p in (tmp_path / "home" / "onnx-int8").rglob("*") if p.is_file()) == [
        "audio.onnx", "text.onnx"]  # the copies only: no source copy or inferred file left
