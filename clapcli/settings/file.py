"""The user's config file: a small TOML file in the platform's config folder (``clap config path``).

Top-level keys are the settings of ``KEYS`` (the same names as the ``CLAPCLI_*`` variables, lower case);
the ``[aliases]`` table holds the user's model aliases (``clap models alias add``). A file that cannot be
read or parsed is refused in one line naming it, never silently ignored: a setting the user wrote and
that does not apply would be a wrong answer nobody sees.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clapcli.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ALIASES = "aliases"


@dataclass(frozen=True)
class Key:
    """One setting: its type as written in the file and what it does (``clap config --help`` lists them)."""

    name: str
    help: str
    kind: type = str
    choices: tuple[str, ...] = ()


KEYS: dict[str, Key] = {key.name: key for key in (
    Key("model", "default embedding model (an alias from 'clap models', a hub id or a local directory)"),
    Key("device", "default device: auto, cpu, cuda, cuda:N or mps"),
    Key("runtime", "default runtime: auto, torch, openvino or onnx", choices=("auto", "torch", "openvino", "onnx")),
    Key("home", "clapcli's folder for derived files and the default library"),
    Key("hub_timeout", "seconds a hub connection or read may take", kind=float),
)}


def config_path() -> Path:
    """``$CLAPCLI_CONFIG`` when set, else ``config.toml`` in the platform's config folder."""
    given = os.environ.get("CLAPCLI_CONFIG", "").strip()
    if given:
        return Path(given).expanduser()
    import platformdirs

    return platformdirs.user_config_path("clapcli", appauthor=False) / "config.toml"


_cache: dict[tuple[str, int, int], dict[str, Any]] = {}


def read() -> dict[str, Any]:
    """The parsed file ({} when there is none); read again only when it changed."""
    path = config_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"config file {path}: {exc.strerror or exc}; fix it or point CLAPCLI_CONFIG "
                         "elsewhere") from None
    stamp = (str(path), stat.st_mtime_ns, stat.st_size)
    if stamp not in _cache:
        _cache.clear()
        _cache[stamp] = _parse(path)
    return _cache[stamp]


def _parse(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path}: cannot be read ({exc}); fix it or remove it") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path}: not valid TOML ({exc}); fix it, or remove it and use "
                         "'clap config set'") from None
    unknown = sorted(set(data) - set(KEYS) - {ALIASES})
    if unknown:
        raise UsageError(f"config file {path}: unknown setting {unknown[0]!r}; known: {', '.join(KEYS)} "
                         f"and the [{ALIASES}] table ('clap config unset {unknown[0]}' removes it)")
    aliases = data.get(ALIASES, {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise UsageError(f"config file {path}: [{ALIASES}] must map names to model strings; fix it or "
                         "remove the table")
    for name in set(data) & set(KEYS):
        try:
            data[name] = coerce(KEYS[name], data[name], f"config file {path}: {name}")
        except UsageError as exc:
            raise UsageError(f"{exc}; or 'clap config unset {name}'") from None
    return data


def coerce(key: Key, raw: object, where: str) -> Any:
    """``raw`` as ``key``'s type, checked; a UsageError starting with ``where`` otherwise."""
    if key.kind is float:
        try:
            value: Any = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = float("nan")
        if not 0 < value < 3600:
            raise UsageError(f"{where} = {raw!r}: give a number of seconds between 0 and 3600, e.g. 10")
        return value
    if not isinstance(raw, str) or not raw.strip():
        raise UsageError(f"{where} = {raw!r}: give a non-empty text value")
    value = raw.strip()
    if key.choices and value.lower() not in key.choices:
        raise UsageError(f"{where} = {raw!r}: choose one of {', '.join(key.choices)}")
    return value.lower() if key.choices else value


def write(data: dict[str, Any]) -> Path:
    """Replace the file with ``data`` atomically (a temporary file beside it, then a rename): an
    interrupted write leaves the old file whole."""
    import tomli_w

    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = tomli_w.dumps({k: v for k, v in data.items() if k != ALIASES or v})
    fd, temp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _cache.clear()
    return path
