"""One resolver for ``--device`` and ``--dtype`` (docs/design.md §1)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from clapcli.errors import InvalidField

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps"
DTYPE_NAMES = ("auto", "float32", "float16", "bfloat16")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count()


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str | None = "auto") -> torch.device:
    """``auto`` = CUDA, then MPS, then CPU; an explicit device must exist."""
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        if _cuda_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match:
        if not _cuda_available():
            raise InvalidField("device", "{device} {value}: CUDA is not available on this machine; use {device} cpu or "
                               "auto", value=name)
        index = int(match.group(1) or 0)
        if index >= _cuda_count():
            raise InvalidField("device", "{device} {value}: only {count} CUDA device(s) here; pick cuda:0..",
                               value=name, count=_cuda_count())
        return torch.device("cuda", index)
    if name == "mps":
        if not _mps_available():
            raise InvalidField("device", "{device} mps: MPS is not available on this machine; use {device} cpu or auto")
        return torch.device("mps")
    raise InvalidField("device", "{device} {value!r} is not a device; choose one of: {choices}", value=name,
                       choices=DEVICE_CHOICES)


def resolve_dtype(name: str | None, device: torch.device, half_ok: bool = True) -> torch.dtype:
    """``auto`` = float16 on CUDA (bfloat16 where the model prefers it), float32 elsewhere."""
    import torch

    name = (name or "auto").strip().lower()
    if name not in DTYPE_NAMES:
        raise InvalidField("dtype", "{dtype} {value!r} is not supported; choose one of: {choices}", value=name,
                           choices=", ".join(DTYPE_NAMES))
    if name == "auto":
        return torch.float16 if device.type == "cuda" and half_ok else torch.float32
    if name == "float16" and device.type == "cpu":
        raise InvalidField("dtype", "{dtype} float16 is not supported on CPU; use bfloat16 or float32")
    if name == "bfloat16" and device.type == "cpu" and cpu_has_native_bfloat16() is False:
        import warnings

        from clapcli.errors import ClapcliWarning

        warnings.warn("--precision bfloat16: this CPU has no AVX512-BF16 or AMX, so bfloat16 is emulated and about "
                      "6x slower than float32 (benchmarks/README.md); for speed on it use --precision int8",
                      ClapcliWarning, stacklevel=2)
    return getattr(torch, name)


def cpu_has_native_bfloat16() -> bool | None:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX); None where we cannot tell."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), None)
    except OSError:
        return None  # not Linux
    if flags is None:
        return None  # e.g. ARM Linux, which names its features differently
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split(":", 1)[-1].split()))
