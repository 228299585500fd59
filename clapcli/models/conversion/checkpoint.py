"""Reading original ``.pth``/``.pt`` checkpoints safely: ``torch.load(weights_only=True)``, so a pickle
that needs arbitrary code is refused, never run; only numpy scalars and dtypes are allowed beside tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clapcli.errors import ModelLoadError
from clapcli.text import first_line


def existing_checkpoint(path: str | Path) -> Path:
    """``path`` as a Path, or a one-line error when there is no such file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"checkpoint '{path}' does not exist; pass the path of the original .pth/.pt file")
    return path


def load_original_state_dict(path: str | Path) -> dict:
    """The checkpoint's tensors, read without running pickled code; "module." prefixes removed."""
    import pickle
    import warnings

    import torch

    path = existing_checkpoint(path)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()), warnings.catch_warnings():
            # torch's note on a protocol-4 pickle is noise beside our own one-line result
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        code = _code_it_needs(exc)
        if code is None:  # not a global it refused: the bytes are no pickle of tensors at all
            line = _reason_line(exc, "WeightsUnpickler error")
            raise _unreadable(path, f"not a pickle of tensors: {line}" if line else "not a pickle of tensors") from None
        raise ModelLoadError(
            f"checkpoint '{path}' needs arbitrary Python code to load, which clapcli refuses to run "
            f"({code}); re-save its state_dict with torch.save from a trusted environment"
        ) from None
    except Exception as exc:  # noqa: BLE001 - weights_only ran no code; any failure means corrupt/not torch
        raise _unreadable(path, _reason(exc, type(exc).__name__)) from None
    return _unwrap(checkpoint, path)


def _unreadable(path: Path, reason: str) -> ModelLoadError:
    return ModelLoadError(f"checkpoint '{path}' is not a readable PyTorch checkpoint ({reason}); it may be cut "
                          "short or another kind of file: download the original .pth/.pt again")


def _code_it_needs(exc: BaseException) -> str | None:
    """The refused global ("unsupported GLOBAL posix.system ...") when the pickle names code to run;
    None when the unpickler failed for another reason (random bytes, a plain pickle, a .npy)."""
    return _reason_line(exc, "GLOBAL")


def _reason_line(exc: BaseException, marker: str) -> str | None:
    """The line of torch's long message that says what went wrong (it follows ``marker`` or holds it)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if marker in line:
            if line.endswith(":") and index + 1 < len(lines):
                return lines[index + 1].rstrip(".")[:160]
            line = line[line.find("WeightsUnpickler error: ") + 24:] if "WeightsUnpickler error: " in line else line
            return line.removeprefix("Trying to load ").split(". Please", 1)[0].rstrip(".")[:160]
    return None


def _reason(exc: BaseException, fallback: str) -> str:
    if isinstance(exc, KeyError):  # a text file read as a legacy pickle
        return "not a torch.save file"
    text = first_line(exc).split(". This is an internal", 1)[0]
    return text[:160] if text.strip() else fallback


def _numpy_safe_globals() -> list:
    """numpy scalars and dtypes, which training scripts leave in checkpoints (a best score, say):
    plain data, rebuilt without running code, so allowed beside tensors.

    numpy 2 moved ``numpy.core`` to ``numpy._core``; checkpoints written with numpy 1 (the released
    LAION ones) name ``numpy.core.multiarray.scalar``. Both spellings map to the installed function by
    name, so the numpy-1 module is never imported. Nothing else from numpy is allowed."""
    import numpy as np

    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    dtypes = [type(np.dtype(name)) for name in ("float16", "float32", "float64", "int32", "int64", "bool")]
    aliases = [(scalar, f"{module}.multiarray.scalar") for module in ("numpy.core", "numpy._core")]
    return [*aliases, (np.dtype, "numpy.dtype"), *dtypes]


def _unwrap(checkpoint: Any, path: Path) -> dict:
    """The state dict inside a release's wrapper (``{"model": ...}``, ``{"state_dict": ...}``)."""
    import torch

    state = checkpoint
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not state:
        raise ModelLoadError(f"checkpoint '{path}' holds no state dict (expected a 'model' or 'state_dict' entry)")
    tensors = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ModelLoadError(f"checkpoint '{path}': entry '{key}' is not a tensor; is this a model checkpoint?")
        tensors[key.removeprefix("module.")] = value
    return tensors
