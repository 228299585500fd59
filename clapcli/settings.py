"""The one reader of clapcli's environment variables (``CLAPCLI_*``), for every layer.

``CLAPCLI_MODEL`` default embedding model; ``CLAPCLI_DEVICE`` default device; ``CLAPCLI_RUNTIME`` default
runtime (auto, torch, openvino or onnx; default auto); ``CLAPCLI_HOME``
clapcli's folder (derived files such as exports and converted checkpoints, and the default library;
default: ``~/.cache/clapcli`` for the derived files, the platform's data folder for the library);
``CLAPCLI_DEBUG=1`` tracebacks instead of one-line errors; ``CLAPCLI_HUB_TIMEOUT`` seconds a hub
request may take.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_COLLECTION = "default"  # the library collection used when --collection is not given


def env(name: str) -> str | None:
    """``CLAPCLI_<name>``, stripped; None when unset or empty."""
    value = os.environ.get(f"CLAPCLI_{name}", "").strip()
    return value or None


def default_model() -> str | None:
    return env("MODEL")


def default_device() -> str:
    return env("DEVICE") or "auto"


RUNTIME_CHOICES = ("auto", "torch", "openvino", "onnx")


def default_runtime() -> str:
    """The runtime when none is asked for: ``CLAPCLI_RUNTIME``, else auto (checked by the model layer)."""
    return (env("RUNTIME") or "auto").lower()


LEGACY_HOME = "~/.cache/clapcli"  # also where the default library lived before it moved to data_home()


def home() -> Path:
    """Derived files clapcli can rebuild (exports, compiled towers, converted checkpoints, hashes)."""
    return Path(env("HOME") or LEGACY_HOME).expanduser()


def data_home() -> Path:
    """Files the user keeps (the default library): ``$CLAPCLI_HOME`` when set, else the platform's
    data folder (``$XDG_DATA_HOME/clapcli``, ``~/.local/share/clapcli`` on Linux), which cache
    cleaners leave alone."""
    given = env("HOME")
    if given:
        return Path(given).expanduser()
    import platformdirs

    return platformdirs.user_data_path("clapcli", appauthor=False)


def data_home_is_default() -> bool:
    """True when ``CLAPCLI_HOME`` is unset (an old default library may then need moving)."""
    return env("HOME") is None


def debug() -> bool:
    return env("DEBUG") == "1"
