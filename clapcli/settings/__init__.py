"""The one reader of clapcli's environment variables (``CLAPCLI_*``), for every layer.

``CLAPCLI_MODEL`` default embedding model; ``CLAPCLI_DEVICE`` default device; ``CLAPCLI_RUNTIME`` default
runtime (auto, torch, openvino or onnx; default auto); ``CLAPCLI_HOME``
clapcli's folder (derived files such as exports and converted checkpoints, and the default library;
default: ``~/.cache/clapcli`` for the derived files, the platform's data folder for the library);
``CLAPCLI_DEBUG=1`` tracebacks instead of one-line errors; ``CLAPCLI_HUB_TIMEOUT`` seconds a hub
request may take; ``CLAPCLI_CONFIG`` the config file.

Each setting but DEBUG can also be written in the config file (``clap config set``, ``settings/file.py``):
a command-line flag wins over the variable, the variable over the file, the file over the default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from clapcli.settings import file as config_file

DEFAULT_COLLECTION = "default"  # the library collection used when --collection is not given


def env(name: str) -> str | None:
    """``CLAPCLI_<name>``, stripped; None when unset or empty."""
    value = os.environ.get(f"CLAPCLI_{name}", "").strip()
    return value or None


@dataclass(frozen=True)
class Setting:
    """A setting's value and where it came from, so that a bad value is named where the user wrote it."""

    name: str
    value: object
    variable: bool  # True: from CLAPCLI_<NAME>; False: from the config file

    def describe(self) -> str:
        """``CLAPCLI_RUNTIME=x`` or ``runtime = 'x' in /path/config.toml``, for messages."""
        if self.variable:
            return f"CLAPCLI_{self.name.upper()}={self.value}"
        return f"{self.name} = {self.value!r} in {config_file.config_path()}"

    def origin(self) -> str:
        return f"CLAPCLI_{self.name.upper()}" if self.variable else "the config file"

    def fix(self) -> str:
        """What to do about a bad value, in the user's terms."""
        if self.variable:
            return "unset it"
        return f"'clap config unset {self.name}'"


def lookup(name: str) -> Setting | None:
    """Setting ``name`` (a key of ``config_file.KEYS``) from ``CLAPCLI_<NAME>``, else the config file."""
    raw = env(name.upper())
    if raw is not None:
        return Setting(name, raw, True)
    value = config_file.read().get(name)
    return None if value is None else Setting(name, value, False)


def value(name: str) -> str | None:
    found = lookup(name)
    return None if found is None else str(found.value)


def user_aliases() -> dict[str, str]:
    """The user's model aliases (``clap models alias add``), from the config file."""
    return dict(config_file.read().get(config_file.ALIASES, {}))


def default_model() -> str | None:
    return value("model")


def default_device() -> str:
    return value("device") or "auto"


RUNTIME_CHOICES = ("auto", "torch", "openvino", "onnx")


def default_runtime() -> str:
    """The runtime when none is asked for: ``CLAPCLI_RUNTIME``, the config file, else auto (checked by
    the model layer)."""
    return (value("runtime") or "auto").lower()


LEGACY_HOME = "~/.cache/clapcli"  # also where the default library lived before it moved to data_home()


def home() -> Path:
    """Derived files clapcli can rebuild (exports, compiled towers, converted checkpoints, hashes)."""
    return Path(value("home") or LEGACY_HOME).expanduser()


def data_home() -> Path:
    """Files the user keeps (the default library): ``$CLAPCLI_HOME`` when set, else the platform's
    data folder (``$XDG_DATA_HOME/clapcli``, ``~/.local/share/clapcli`` on Linux), which cache
    cleaners leave alone."""
    given = value("home")
    if given:
        return Path(given).expanduser()
    import platformdirs

    return platformdirs.user_data_path("clapcli", appauthor=False)


def data_home_is_default() -> bool:
    """True when no home is set (an old default library may then need moving)."""
    return value("home") is None


def debug() -> bool:
    return env("DEBUG") == "1"
