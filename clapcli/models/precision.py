"""``--precision`` -> the compute type a runtime uses, from what this CPU computes natively.

exact: float32 everywhere (the default). fast: bfloat16 where the CPU has it natively (AVX512-BF16 or
AMX, read from ``/proc/cpuinfo``) and the runtime can use it (OpenVINO, torch); plain float32
elsewhere, said in one line: on an AVX2-only CPU bfloat16 is emulated and several times slower
(docs/design.md §1), and ONNX Runtime has no bfloat16 CPU kernels for these towers (§3).
bfloat16 / float16 / int8 ask for that type whatever the CPU (torch: dtype, or dynamic int8 of the
linear layers; ONNX Runtime: dynamic int8 of the MatMuls; OpenVINO: bfloat16 where native). They
replace the CLI's old ``--dtype`` and ``--quantize`` (``legacy_precision``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from clapcli.errors import InvalidField
from clapcli.models.request import PRECISIONS

log = logging.getLogger(__name__)

CPUINFO = Path("/proc/cpuinfo")  # tests point this at a fake file
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Precision:
    name: str  # one of PRECISIONS, as asked
    compute: str  # "float32", "bfloat16", "float16" or "int8": what the runtime is told to use
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
    if name not in PRECISIONS:
        raise InvalidField("precision", "{precision} {value!r}: choose one of {choices} (exact: float32; "
                           "fast: bfloat16 where the CPU has it)", value=precision, choices=", ".join(PRECISIONS))
    if name == "exact":
        return Precision(name, "float32")
    if name == "float16" and runtime != "torch":
        raise InvalidField("precision", "{precision} float16 runs on torch ({runtime} torch with the source "
                           "checkpoint); the {value} runtime takes exact, fast or bfloat16", value=runtime)
    if name == "int8" and runtime == "openvino":
        raise InvalidField("precision", "{precision} int8 runs on torch or ONNX Runtime ({runtime} onnx); the "
                           "openvino runtime takes exact, fast or bfloat16")
    if name == "fast":
        choice = _fast(runtime)
    elif name == "bfloat16" and runtime == "onnx":
        raise InvalidField("precision", "{precision} bfloat16: ONNX Runtime has no bfloat16 CPU path for these "
                           "towers; use {runtime} openvino or torch")
    elif name == "bfloat16" and runtime == "openvino" and not native_bfloat16():
        choice = Precision(name, "float32", f"--precision bfloat16: this CPU ({cpu_name()}) has no native bfloat16 "
                           "(AVX512-BF16/AMX), where OpenVINO does not use it; running float32")
    else:  # torch bfloat16 (resolve_dtype warns where it is emulated), float16, int8; ONNX int8; OpenVINO bfloat16
        choice = Precision(name, name)
    if choice.note:
        log.info(choice.note)
    return choice


def _fast(runtime: str) -> Precision:
    if runtime == "onnx":
        return Precision("fast", "float32", "--precision fast: ONNX Runtime has no bfloat16 CPU path for these "
                         "towers, running float32 (use --runtime openvino for bfloat16 on a CPU that has it)")
    if not native_bfloat16():
        return Precision("fast", "float32", f"--precision fast: this CPU ({cpu_name()}) has no native bfloat16 "
                         "(AVX512-BF16/AMX), where it is emulated and slower; running float32")
    return Precision("fast", "bfloat16")


# The CLI's old spellings (0.1): --dtype float32|bfloat16|float16 and --quantize int8.
_LEGACY_DTYPES = {"float32": "exact", "bfloat16": "bfloat16", "float16": "float16"}


def legacy_precision(dtype: str | None, quantize: str | None, precision: str | None) -> tuple[str | None, list[str]]:
    """(the --precision that ``--dtype``/``--quantize`` spell, one deprecation note per old option used).

    ``--dtype auto`` (their default) means nothing was asked. Giving an old option beside a different
    --precision is a usage error; ``--dtype float32 --quantize int8`` is int8 (quantize needs float32)."""
    dtype = (dtype or "auto").strip().lower()
    asked: list[tuple[str, str]] = []
    if dtype != "auto":
        if dtype not in _LEGACY_DTYPES:
            raise InvalidField("dtype", "{dtype} {value!r}: choose one of auto, {choices} (or use {precision})",
                               value=dtype, choices=", ".join(_LEGACY_DTYPES))
        asked.append(("{dtype} " + dtype, _LEGACY_DTYPES[dtype]))  # a template: the option is named by the caller
    if quantize is not None:
        if quantize.strip().lower() != "int8":
            raise InvalidField("quantize", "{quantize} {value!r}: choose int8 (or use {precision} int8)",
                               value=quantize)
        if asked and asked[0][1] != "exact":
            raise InvalidField("quantize", "{quantize} int8 quantizes float32 weights; drop {dtype} {value}",
                               value=dtype)
        asked = [(f"{asked[0][0]} {{quantize}} int8" if asked else "{quantize} int8", "int8")]
    if not asked:
        return precision, []
    old, new = asked[0]
    if precision is not None and precision.strip().lower() != new:
        raise InvalidField("precision", f"{old} and {{precision}} {{value}} disagree; pass {{precision}} only ({old} "
                           "is its old spelling)", value=precision)
    notes = [f"{old} is now {{precision}} {new}; the old option goes in the next release"]
    return new, [_as_flags(note) for note in notes]


def _as_flags(template: str) -> str:
    """A deprecation note about the CLI's old options, naming them as the command line spells them."""
    return template.format(dtype="--dtype", quantize="--quantize", precision="--precision")


def _read(path: Path) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii", errors="ignore")
    except OSError:
        return None
