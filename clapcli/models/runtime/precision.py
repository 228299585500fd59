"""``--precision exact|fast`` -> the compute type a runtime uses, from what this CPU computes natively.

exact: float32 everywhere (the default). fast: bfloat16 where the CPU has it natively (AVX512-BF16 or
AMX, read from ``/proc/cpuinfo``) and the runtime can use it (OpenVINO, torch); plain float32
elsewhere, said in one line: on an AVX2-only CPU bfloat16 is emulated and several times slower
(DESIGN.md §5), and ONNX Runtime has no bfloat16 CPU kernels for these towers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from clapcli.errors import UsageError

log = logging.getLogger(__name__)

CPUINFO = Path("/proc/cpuinfo")  # tests point this at a fake file
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Precision:
    name: str  # "exact" or "fast", as asked
    compute: str  # "float32" or "bfloat16": what the runtime is told to use
    note: str | None = None  # why fast runs float32 here, when it does


def cpu_flags(cpuinfo: Path | None = None) -> set[str] | None:
    """The CPU's feature flags, or None where they cannot be read (not Linux, or another architecture)."""
    text = _read(cpuinfo or CPUINFO)
    if text is None:
        return None
    line = next((line for line in text.splitlines() if line.startswith("flags")), None)
    return None if line is None else set(line.split(":", 1)[-1].split())


def cpu_name(cpuinfo: Path | None = None) -> str:
    """The CPU's model name as /proc/cpuinfo gives it ("unknown CPU" elsewhere)."""
    text = _read(cpuinfo or CPUINFO) or ""
    line = next((line for line in text.splitlines() if line.startswith("model name")), None)
    return line.split(":", 1)[-1].strip() if line else "unknown CPU"


def native_bfloat16(cpuinfo: Path | None = None) -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX); False where we cannot tell."""
    return bool(NATIVE_BF16_FLAGS & (cpu_flags(cpuinfo) or set()))


def choose(precision: str | None, runtime: str) -> Precision:
    """The compute type for ``runtime`` ("torch", "openvino", "onnx"); logs the fallback once."""
    name = (precision or "exact").strip().lower()
    if name not in ("exact", "fast"):
        raise UsageError(f"--precision {precision!r}: choose exact (float32) or fast (bfloat16 where the CPU has it)")
    if name == "exact":
        return Precision(name, "float32")
    if runtime == "onnx":
        choice = Precision(name, "float32", "--precision fast: ONNX Runtime has no bfloat16 CPU path for these "
                           "towers, running float32 (use --runtime openvino for bfloat16 on a CPU that has it)")
    elif not native_bfloat16():
        choice = Precision(name, "float32", f"--precision fast: this CPU ({cpu_name()}) has no native bfloat16 "
                           "(AVX512-BF16/AMX), where it is emulated and slower; running float32")
    else:
        choice = Precision(name, "bfloat16")
    if choice.note:
        log.info(choice.note)
    return choice


def _read(path: Path) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii", errors="ignore")
    except OSError:
        return None
