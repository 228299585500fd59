"""--runtime auto: the fastest runtime from the installed packages and the CPU's flags (both faked here)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from clapcli.models import precision
from clapcli.models.runtime import auto

AMX = "model name\t: Intel(R) Xeon(R) Platinum 8481C\nflags\t\t: fpu sse avx avx2 avx512f avx512_bf16 amx_bf16\n"
AVX2_ONLY = "model name\t: AMD EPYC 7B13\nflags\t\t: fpu sse sse2 avx avx2 fma f16c\n"


@pytest.fixture()
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """machine(cpuinfo, installed runtimes, nvidia=False): a fake CPU, set of packages and GPU driver."""
    monkeypatch.delenv("CLAPCLI_DEVICE", raising=False)
    monkeypatch.setattr(auto.platform, "system", lambda: "Linux")

    def fake(cpuinfo: str, runtimes: set[str], nvidia: bool = False) -> None:
        (tmp_path / "cpuinfo").write_text(cpuinfo)
        monkeypatch.setattr(precision, "CPUINFO", tmp_path / "cpuinfo")
        monkeypatch.setattr(auto, "installed", lambda runtime: runtime in runtimes)
        driver = tmp_path / "nvidia-version"
        if nvidia:
            driver.write_text("NVRM version: 550")
        monkeypatch.setattr(auto, "NVIDIA", (driver,))
    return fake


BOTH, ORT, NONE = {"openvino", "onnx"}, {"onnx"}, set()


@pytest.mark.parametrize("cpuinfo, runtimes, asked, expected", [
    (AVX2_ONLY, BOTH, None, "openvino"),
    (AVX2_ONLY, ORT, "exact", "onnx"),
    (AVX2_ONLY, NONE, "exact", "torch"),
    (AMX, BOTH, "fast", "openvino"),
    (AMX, ORT, "fast", "torch"),  # torch's native bfloat16 beats ONNX Runtime's float32
    (AVX2_ONLY, ORT, "fast", "onnx"),  # no native bfloat16: float32, and ONNX Runtime is faster there
    (AMX, ORT, "bfloat16", "torch"),
    (AMX, ORT, "exact", "onnx"),
    (AMX, BOTH, "int8", "onnx"),  # ONNX Runtime's dynamic int8 beats torch's
    (AVX2_ONLY, {"openvino"}, "int8", "torch"),
    (AMX, BOTH, "float16", "torch"),
])
def test_choice_from_cpu_and_packages(machine, tiny_clap, cpuinfo, runtimes, asked, expected):
    machine(cpuinfo, runtimes)
    assert auto.choose_runtime(str(tiny_clap), asked, "cpu").runtime == expected


def test_a_gpu_runs_on_torch(machine, tiny_clap, monkeypatch):
    machine(AMX, BOTH, nvidia=True)
    assert auto.choose_runtime(str(tiny_clap), None, None).reason == "a GPU runs on torch"
    assert auto.choose_runtime(str(tiny_clap), None, "cpu").runtime == "openvino"  # an explicit CPU wins
    machine(AMX, BOTH)
    assert auto.choose_runtime(str(tiny_clap), None, "cuda:0").runtime == "torch"
    monkeypatch.setenv("CLAPCLI_DEVICE", "cuda")
    assert auto.choose_runtime(str(tiny_clap), None, None).runtime == "torch"
    monkeypatch.setattr(auto.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(auto.platform, "machine", lambda: "arm64")
    monkeypatch.delenv("CLAPCLI_DEVICE")
    assert auto.choose_runtime(str(tiny_clap), None, "auto").runtime == "torch"  # MPS


def test_models_without_an_export_run_on_torch(machine, tmp_path):
    machine(AMX, BOTH)
    pipeline = tmp_path / "audioldm2"
    pipeline.mkdir()
    (pipeline / "model_index.json").write_text(json.dumps({"_class_name": "AudioLDM2Pipeline"}))
    assert auto.choose_runtime(str(pipeline), None, "cpu") == auto.Choice("torch", "this model has no exported form")
    assert auto.choose_runtime(str(tmp_path / "missing"), None, "cpu").runtime == "torch"


def test_an_asked_for_auto_is_one_note(machine, tiny_clap, caplog):
    machine(AVX2_ONLY, ORT)
    with caplog.at_level(logging.INFO, logger="clapcli"):
        auto.plan(str(tiny_clap), None, "cpu", 100, explicit=True)
        auto.plan(str(tiny_clap), None, "cpu", 100)  # the default auto says nothing unless it exports
    assert [r.getMessage() for r in caplog.records] == [
        "--runtime auto: onnx (installed; install clapcli[openvino] for faster; 100 inputs pay for a one-time "
        "export)"]


def _rows(result) -> np.ndarray:
    assert result.exit_code == 0, result.stderr
    return np.array([json.loads(line)["embedding"] for line in result.stdout.splitlines()])


def test_cli_auto_exports_and_matches_torch(cli, machine, sources, clips, exports, tmp_path, monkeypatch):
    machine(AVX2_ONLY, BOTH)  # the real packages are installed; float32 on OpenVINO
    monkeypatch.setattr(auto, "EXPORT_PAYS_FROM", 1)  # a big job, in small
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    args = ["embed", clips[0], "--text", "a dog", "--model", sources["laion-clap"], "-f", "jsonl"]
    chosen = cli([*args, "--runtime", "auto"])
    assert ("--runtime auto: openvino (installed, fastest float32 on the CPU; 1 inputs pay for a one-time "
            "export)") in chosen.stderr
    (cached,) = (tmp_path / "home" / "exports").iterdir()
    assert cached.name.endswith("-openvino")
    np.testing.assert_allclose(_rows(chosen), _rows(cli([*args, "--runtime", "torch"])), atol=1e-4)
    quiet = cli([*args, "--runtime", "AUTO", "--quiet"])
    assert quiet.stderr == "" and _rows(quiet).shape == (2, 16)
    export = cli(["embed", "--text", "a dog", "--model", exports["laion-clap", "onnx"], "--runtime", "auto", "-q"])
    assert export.exit_code == 0, export.stderr  # an export directory keeps its own runtime


def test_the_option_literals_match_the_runtime_package():
    from clapcli.console import options
    from clapcli.models import runtime

    assert options.RUNTIMES == runtime.RUNTIMES and options.PRECISIONS == runtime.PRECISIONS
