"""One --precision vocabulary: exact, fast, bfloat16, float16, int8; the old --dtype/--quantize spell the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clapcli.errors import UsageError
from clapcli.models import precision
from clapcli.models.precision import legacy_precision

AMX = "model name\t: Intel(R) Xeon(R) Platinum 8481C\nflags\t\t: fpu sse avx avx2 avx512f avx512_bf16 amx_bf16\n"
AVX2_ONLY = "model name\t: AMD EPYC 7B13\nflags\t\t: fpu sse sse2 avx avx2 fma f16c\n"


@pytest.fixture()
def cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def fake(text: str) -> None:
        (tmp_path / "cpuinfo").write_text(text)
        monkeypatch.setattr(precision, "CPUINFO", tmp_path / "cpuinfo")
        monkeypatch.setattr("clapcli.models.device.cpu_has_native_bfloat16", lambda: "amx_bf16" in text)
    return fake


@pytest.mark.parametrize("dtype, quantize, expected", [
    ("auto", None, None), (None, None, None), ("float32", None, "exact"), ("BFLOAT16", None, "bfloat16"),
    ("float16", None, "float16"), ("auto", "int8", "int8"), ("float32", "int8", "int8"),
])
def test_old_options_map_to_one_precision(dtype, quantize, expected):
    folded, notes = legacy_precision(dtype, quantize, None)
    assert folded == expected
    assert len(notes) == (expected is not None)
    if expected:
        assert notes[0].endswith(f"is now --precision {expected}; the old option goes in the next release")


def test_old_and_new_spellings_together():
    assert legacy_precision("bfloat16", None, "bfloat16")[0] == "bfloat16"
    assert legacy_precision("auto", None, "fast") == ("fast", [])
    with pytest.raises(UsageError, match="^dtype bfloat16 and precision exact disagree"):
        legacy_precision("bfloat16", None, "exact")
    with pytest.raises(UsageError, match="quantizes float32 weights; drop dtype bfloat16"):
        legacy_precision("bfloat16", "int8", None)


def test_each_precision_is_a_torch_dtype(cpu, monkeypatch):
    from clapcli.models import torch_loader
    from clapcli.models.request import LoadRequest

    def torch_dtype(precision: str | None, device: str, dtype: str) -> str:
        return torch_loader.torch_dtype(LoadRequest(device=device, dtype=dtype, precision=precision))

    cpu(AMX)
    monkeypatch.setattr(torch_loader, "_on_gpu", lambda device: False)
    dtypes = {name: torch_dtype(name, "cpu", "auto") for name in ("exact", "fast", "bfloat16", "int8")}
    assert dtypes == {"exact": "float32", "fast": "bfloat16", "bfloat16": "bfloat16", "int8": "float32"}
    assert torch_dtype(None, "auto", "auto") == "auto"
    cpu(AVX2_ONLY)
    assert torch_dtype("fast", "cpu", "auto") == "float32"
    assert torch_dtype("bfloat16", "cpu", "auto") == "bfloat16"  # asked for: torch emulates it (warned)
    monkeypatch.setattr(torch_loader, "_on_gpu", lambda device: True)
    assert torch_dtype("fast", "cuda", "auto") == "auto"  # the GPU's half type


def test_exported_runtimes_take_exact_fast_bfloat16(cpu):
    cpu(AMX)
    assert precision.choose("bfloat16", "openvino").compute == "bfloat16"
    for name in ("float16", "int8"):
        with pytest.raises(UsageError, match=f"^precision {name} runs on torch"):
            precision.choose(name, "openvino")
    with pytest.raises(UsageError, match="ONNX Runtime has no bfloat16"):
        precision.choose("bfloat16", "onnx")
    cpu(AVX2_ONLY)
    choice = precision.choose("bfloat16", "openvino")
    assert choice.compute == "float32" and "no native bfloat16" in choice.note


def test_int8_quantizes_the_linear_layers(tiny_clap):
    import torch

    from clapcli.models.loading import load_embedding_model

    model = load_embedding_model(str(tiny_clap), device="cpu", precision="int8", runtime="torch")
    kinds = {type(m).__module__ for m in model.network.modules() if "Linear" in type(m).__name__}
    assert any("quantized" in kind for kind in kinds), kinds
    assert next(model.network.parameters(), torch.zeros(1)).dtype == torch.float32


def _embed(cli, model: Path, clip: Path, *options: str):
    result = cli(["embed", clip, "--text", "a dog barking", "--model", model, "-f", "jsonl", *options])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return np.array([row["embedding"] for row in rows]), result.stderr


@pytest.mark.parametrize("old, new", [
    (["--dtype", "bfloat16"], ["--precision", "bfloat16"]),
    (["--quantize", "int8"], ["--precision", "int8"]),
    (["--dtype", "float32"], ["--precision", "exact"]),
])
def test_old_spellings_still_work_with_one_note(cli, cpu, sources, clips, old, new):
    cpu(AMX)
    old_rows, old_err = _embed(cli, sources["laion-clap"], clips[0], *old)
    new_rows, new_err = _embed(cli, sources["laion-clap"], clips[0], *new)
    np.testing.assert_array_equal(old_rows, new_rows)  # the same model, the same numbers
    notes = [line for line in old_err.splitlines() if "is now --precision" in line]
    assert notes == [f"warning: {' '.join(old)} is now --precision {new[1]}; the old option goes in the next "
                     "release"], old_err
    assert "is now" not in new_err
    exact, _ = _embed(cli, sources["laion-clap"], clips[0])
    cosine = (exact * new_rows).sum(-1) / np.linalg.norm(exact, axis=-1) / np.linalg.norm(new_rows, axis=-1)
    assert cosine.min() > 0.99
    if new[1] != "exact":  # the precision was applied, not ignored
        assert np.abs(exact - new_rows).max() > 1e-6
    else:
        np.testing.assert_array_equal(exact, new_rows)


def test_quiet_drops_the_deprecation_note(cli, cpu, sources, clips):
    cpu(AMX)
    _, stderr = _embed(cli, sources["laion-clap"], clips[0], "--quantize", "int8", "--quiet")
    assert stderr == ""


def test_precision_is_listed_and_validated(cli):
    help_text = cli(["classify", "--help"], env={"COLUMNS": "250"}).stdout
    assert "exact|fast|bfloat16|float16|int8" in help_text
    assert "--dtype" not in help_text and "--quantize" not in help_text  # hidden, deprecated
    bad = cli(["embed", "--text", "a", "--precision", "fp8"])
    assert bad.exit_code == 2 and "Invalid value for '--precision'" in bad.stderr
