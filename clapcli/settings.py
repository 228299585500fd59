"""The one reader of clapcli's environment variables (``CLAPCLI_*``), for every layer.

``CLAPCLI_MODEL`` default embedding model; ``CLAPCLI_DEVICE`` default device; ``CLAPCLI_HOME``
clapcli's folder (library, converted checkpoints; default ``~/.cache/clapcli``); ``CLAPCLI_DEBUG=1``
tracebacks instead of one-line errors; ``CLAPCLI_HUB_TIMEOUT`` seconds a hub request may take.
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


def home() -> Path:
    return Path(env("HOME") or "~/.cache/clapcli").expanduser()


def debug() -> bool:
    return env("DEBUG") == "1"
