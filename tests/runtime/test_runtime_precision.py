"""--precision fast: bfloat16 only where the CPU has it natively (faked /proc/cpuinfo), else float32 with a note."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from clapcli.models import precision

AVX2_ONLY = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse sse2 avx avx2 fma f16c\n"
AMX = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C\n"
       "flags\t\t: fpu sse avx avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n")


@pytest.fixture()
def cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def fake(text: str) -> None:
        (tmp_path / "cpuinfo").write_text(text)
        monkeypatch.setattr(precision, "CPUINFO", tmp_path / "cpuinfo")
    return fake


def test_flags_and_name_from_cpuinfo(cpu):
    cpu(AMX)
    assert precision.native_bfloat16() and precision.cpu_name() == "Intel(R) Xeon(R) Platinum 8481C"
    cpu(AVX2_ONLY)
    assert not precision.native_bfloat16() and "avx2" in precision.cpu_flags()


def test_unreadable_cpuinfo_means_no_native_bfloat16(monkeypatch, tmp_path):
    monkeypatch.setattr(precision, "CPUINFO", tmp_path / "absent")
    assert precision.cpu_flags() is None and precision.native_bfloat16() is False
    assert precision.cpu_name() == "unknown CPU"


def test_fast_falls_back_to_float32_on_avx2_with_one_note(cpu, caplog):
    cpu(AVX2_ONLY)
    with caplog.at_level(logging.INFO, logger="clapcli"):
        choice = precision.choose("fast", "openvino")
    assert (choice.name, choice.compute) == ("fast", "float32")
    assert "AMD EPYC 7B13" in choice.note and "running float32" in choice.note
    assert [r.getMessage() for r in caplog.records] == [choice.note]


def test_fast_is_bfloat16_where_native_except_on_onnx(cpu):
    cpu(AMX)
    assert precision.choose("fast", "openvino").compute == "bfloat16"
    assert precision.choose("fast", "torch").compute == "bfloat16"
    onnx = precision.choose("fast", "onnx")
    assert onnx.compute == "float32" and "ONNX Runtime" in onnx.note


def test_exact_is_float32_everywhere(cpu):
    cpu(AMX)
    assert precision.choose(None, "openvino").compute == "float32"
    assert precision.choose("exact", "torch").compute == "float32"


def test_precision_reaches_the_runtimes(cpu, exports, sources):
    from clapcli.models.request import LoadRequest
    from clapcli.models.runtime.dispatch import load_exported
    from clapcli.models.runtime.openvino_backend import HINTS
    from clapcli.models.torch_loader import torch_dtype

    export = LoadRequest(str(exports["laion-clap", "openvino"]), precision="fast")
    cpu(AMX)
    model = load_exported(export, "export")
    assert model.towers.compute == "bfloat16" and HINTS[model.towers.compute] == "bf16"
    assert torch_dtype(LoadRequest(str(sources["laion-clap"]), device="cpu", runtime="torch", precision="fast")) == \
        "bfloat16"
    cpu(AVX2_ONLY)
    model = load_exported(export, "export")
    assert model.towers.compute == "float32" and model.precision == "float32"
    assert torch_dtype(LoadRequest(str(sources["laion-clap"]), device="cpu", precision="fast")) == "float32"


def test_cli_fast_on_this_kind_of_cpu_says_float32(cli, cpu, exports, tmp_path):
    cpu(AVX2_ONLY)
    result = cli(["embed", "--text", "a dog", "--model", exports["laion-clap", "openvino"], "--precision", "fast",
                  "-f", "jsonl"])
    assert result.exit_code == 0, result.stderr
    assert "has no native bfloat16" in result.stderr and "running float32" in result.stderr
