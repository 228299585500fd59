"""``--runtime auto``: the fastest runtime for this model on this machine, from what is installed and what the
CPU computes natively, said in one line.

Order, from the end-to-end figures in benchmarks/README.md (``bench_embed_runtime.py``):
- torch where it is the only choice: a GPU (``--device cuda|mps``, or ``auto`` with an NVIDIA driver or on
  Apple silicon), ``--precision float16``, a model ``clap export`` cannot write (any family but LAION
  CLAP, fused or not, MS-CLAP, AltCLIP, CLIP and PE-Audio), or neither OpenVINO nor ONNX Runtime installed;
- ``--precision int8``: ONNX Runtime (its dynamic int8 of the exported towers), else torch;
- ``--precision fast|bfloat16`` on a CPU with native bfloat16 (AVX512-BF16/AMX): OpenVINO, else torch (both
  run bfloat16; ONNX Runtime has no bfloat16 CPU path);
- otherwise (float32): OpenVINO, else ONNX Runtime, else torch.

``auto`` is the default runtime (``CLAPCLI_RUNTIME`` or ``--runtime`` change it). ``plan`` decides when the
exported runtime is used: at once when the cache holds an export of the model
(``export_cache.cached_export``), or after exporting it now when the job is large enough to pay for the
one-time export (``EXPORT_PAYS_FROM`` inputs); smaller jobs run on torch and export nothing
(docs/design.md §7 has the measurements behind the threshold).
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
from clapcli.text import plural

log = logging.getLogger(__name__)

# What export.export_model writes (fused LAION too). PE-Audio is here because its export pays like CLAP's,
# measured (benchmarks/bench_pe_export.py, full-size random weights, 4 ten-second clips end to end, AMD EPYC
# with avx512_bf16, 2 cores, loaded machine): torch 311 s, OpenVINO exact 92 s (3.4x), ONNX 175 s (1.8x);
# the export itself takes ~350 s once (peak 8 GB), so it is paid back within ~7 such clips, far below the
# EXPORT_PAYS_FROM inputs at which auto exports.
EXPORTABLE = ("laion-clap", "msclap", "altclip", "pe-audio")
MODULES = {"openvino": "openvino", "onnx": "onnxruntime"}
NVIDIA = (Path("/proc/driver/nvidia/version"), Path("/dev/nvidia0"))  # tests point these elsewhere


@dataclass(frozen=True)
class Choice:
    runtime: str
    reason: str
    exports: bool = False  # the model is exported into the cache first (once)


# Inputs from which a job exports the model on first use. Measured (full-size LAION CLAP, 100 ten-second
# clips, AMD EPYC 2 cores): the export takes ~13 s once and OpenVINO saves ~0.11 s per clip against torch,
# so the export is paid back within ~120 clips; from 64 the first run costs at most ~1.5x torch's and every
# later run is ~3.4x faster.
EXPORT_PAYS_FROM = 64


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
    """The fastest runtime for model ``name`` here, once exported (``plan`` decides whether to use it)."""
    return _choose(name, (precision or "exact").strip().lower(), device)


def plan(name: str, precision: str | None, device: str | None, job_size: int | None,
         explicit: bool = False) -> Choice:
    """What ``auto`` runs ``name`` on for a job of ``job_size`` inputs (None: unknown): the fastest runtime
    when its export is cached or the job pays for exporting it, else torch. ``explicit``: the user asked
    for auto (the choice is then said in a note even when nothing is exported)."""
    fastest = choose_runtime(name, precision, device)
    choice = fastest
    if fastest.runtime != "torch":
        from clapcli.models.runtime.export_cache import ready

        if ready(name, fastest.runtime):
            choice = Choice(fastest.runtime, f"{fastest.reason}; export cached")
        elif job_size is not None and job_size >= EXPORT_PAYS_FROM:
            choice = Choice(fastest.runtime, f"{fastest.reason}; {job_size} inputs pay for a one-time export",
                            exports=True)
        else:
            size = "a job of unknown size" if job_size is None else plural(job_size, "input")
            choice = Choice("torch", f"{size}; exporting to {fastest.runtime} once pays from "
                                     f"{EXPORT_PAYS_FROM} inputs")
    if explicit:
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


def fastest_installed(precision: str = "exact") -> str:
    """The exported runtime ``auto`` would pick here for an exportable model (or torch), without reading one."""
    bf16 = precision in ("fast", "bfloat16") and native_bfloat16()
    if installed("openvino"):
        return "openvino"
    return "torch" if bf16 or not installed("onnx") else "onnx"


def describe(name: str) -> str:
    """What a job that asks for no runtime runs ``name`` on, in a few words (for ``clap models``); reads only
    local files: the cache of exports and a local or already downloaded config."""
    chosen = settings.lookup("runtime")
    if chosen is not None and str(chosen.value).lower() != "auto":
        return f"{str(chosen.value).lower()} (set by {chosen.origin()})"
    if gpu_requested(None):
        return "torch (GPU)"
    target = fastest_installed()
    if target == "torch":
        return "torch (no exported runtime installed)"
    from clapcli.models.runtime.export_cache import ready

    if ready(name, target):
        return f"{target} (export cached)"
    from clapcli.models import registry

    family = _local_family(name) or registry.ALIAS_FAMILIES.get(name)
    if family is not None and family not in EXPORTABLE:
        return "torch (no exported form)"
    return f"torch; {target} once a {EXPORT_PAYS_FROM}+ file job exports it"


def _local_family(name: str) -> str | None:
    import json

    from clapcli.models import registry

    location = registry.EMBEDDING_ALIASES.get(name, name)
    config = Path(location).expanduser() / "config.json"
    if not config.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(location, "config.json")
        except ValueError:  # not a repo id
            return None
        if not isinstance(cached, str):
            return None
        config = Path(cached)
    try:
        return registry.family_from_config(json.loads(config.read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError):
        return None


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
