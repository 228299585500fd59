"""``--runtime auto``: the fastest runtime for this model on this machine, from what is installed and what the
CPU computes natively, said in one line.

Order, from the end-to-end figures in benchmarks/README.md (``bench_embed_runtime.py``):
- torch where it is the only choice: a GPU (``--device cuda|mps``, or ``auto`` with an NVIDIA driver or on
  Apple silicon), ``--precision float16``, a model ``clap export`` cannot write (any family but LAION
  CLAP, fused or not, MS-CLAP, AltCLIP and CLIP), or neither OpenVINO nor ONNX Runtime installed;
- ``--precision int8``: ONNX Runtime (its dynamic int8 of the exported towers), else torch;
- ``--precision fast|bfloat16`` on a CPU with native bfloat16 (AVX512-BF16/AMX): OpenVINO, else torch (both
  run bfloat16; ONNX Runtime has no bfloat16 CPU path);
- otherwise (float32): OpenVINO, else ONNX Runtime, else torch.
A source checkpoint is exported once into the cache on first use (``dispatch.cached_export``).
"""

from __future__ import annotations

import importlib.util
import logging
import platform
from dataclasses import dataclass
from pathlib import Path

from clapcli import settings
from clapcli.errors import ClapcliError
from clapcli.models.precision import native_bfloat16

log = logging.getLogger(__name__)

EXPORTABLE = ("laion-clap", "msclap", "altclip")  # what export.export_model writes (fused LAION too)
MODULES = {"openvino": "openvino", "onnx": "onnxruntime"}
NVIDIA = (Path("/proc/driver/nvidia/version"), Path("/dev/nvidia0"))  # tests point these elsewhere


@dataclass(frozen=True)
class Choice:
    runtime: str
    reason: str


def installed(runtime: str) -> bool:
    """Whether the package of an exported runtime can be imported (found without importing it)."""
    return importlib.util.find_spec(MODULES[runtime]) is not None


def gpu_requested(device: str | None) -> bool:
    """An explicit GPU, or ``auto`` where one is likely (without importing torch: an NVIDIA driver, or
    Apple silicon, where ``auto`` means MPS)."""
    name = (device or settings.default_device() or "auto").strip().lower()
    if name != "auto":
        return name != "cpu"
    apple = platform.system() == "Darwin" and platform.machine() == "arm64"
    return apple or any(path.exists() for path in NVIDIA)


def choose_runtime(name: str, precision: str | None, device: str | None) -> Choice:
    """The runtime ``--runtime auto`` means for model ``name`` (logged once, as a note)."""
    choice = _choose(name, (precision or "exact").strip().lower(), device)
    log.info("--runtime auto: %s (%s)", choice.runtime, choice.reason)
    return choice


def _choose(name: str, precision: str, device: str | None) -> Choice:
    if gpu_requested(device):
        return Choice("torch", "a GPU runs on torch")
    if precision == "float16":
        return Choice("torch", "--precision float16 runs on torch")
    family = exportable_family(name)
    if family is None:
        return Choice("torch", "this model has no exported form")
    if precision == "int8":  # ONNX Runtime's dynamic int8: 2.6-4.1x torch float32 end to end, torch's ~1.1x
        if installed("onnx"):
            return Choice("onnx", "dynamic int8, faster than torch's")
        return Choice("torch", "dynamic int8; install clapcli[onnx] for faster")
    bf16 = precision in ("fast", "bfloat16") and native_bfloat16()
    if installed("openvino"):
        return Choice("openvino", "bfloat16 on this CPU" if bf16 else "installed, fastest float32 on the CPU")
    if bf16:
        return Choice("torch", "bfloat16 on this CPU; install clapcli[openvino] for faster")
    if installed("onnx"):
        return Choice("onnx", "installed; install clapcli[openvino] for faster")
    return Choice("torch", "neither OpenVINO nor ONNX Runtime is installed")


def exportable_family(name: str) -> str | None:
    """The model's family when ``clap export`` can write it, from its config alone (no weights loaded)."""
    from clapcli.models import registry
    from clapcli.models.hub import read_config
    from clapcli.models.torch_loader import resolve_embedding_ref

    try:
        config = read_config(resolve_embedding_ref(name))
    except (ClapcliError, OSError, ValueError):  # the torch path fails with the model's own message
        return None
    family = registry.family_from_config(config)
    return family if family in EXPORTABLE else None
