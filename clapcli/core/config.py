"""Reading and changing the user's settings (``clap config``) and model aliases (``clap models alias``).

Precedence, highest first: a command-line flag, ``CLAPCLI_<NAME>``, the config file, the default. Every
change goes through ``settings.file.write`` (atomic), so an interrupted ``clap config set`` leaves the
old file whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clapcli import settings
from clapcli.errors import InvalidField, UsageError
from clapcli.settings import file as config_file

DEFAULTS: dict[str, str] = {
    "model": "laion/clap-htsat-unfused",
    "device": "auto",
    "runtime": "auto",
    "home": f"{settings.LEGACY_HOME} (derived files); the platform's data folder (library)",
    "hub_timeout": "10",
}


@dataclass(frozen=True)
class Entry:
    """One setting as it applies now: its value and where that came from (variable, file or default)."""

    key: str
    value: str
    source: str
    in_file: str | None  # what the file says, even when a variable overrides it

    def to_dict(self) -> dict[str, str | None]:
        return {"key": self.key, "value": self.value, "source": self.source, "in_file": self.in_file}


def _known(key: str) -> config_file.Key:
    found = config_file.KEYS.get(key.strip().lower())
    if found is None:
        raise UsageError(f"unknown setting '{key}'; known: {', '.join(config_file.KEYS)} ('clap config list')")
    return found


def entry(key: str) -> Entry:
    """``key``'s value now and its source."""
    known = _known(key)
    in_file = config_file.read().get(known.name)
    found = settings.lookup(known.name)
    if found is None:
        return Entry(known.name, DEFAULTS[known.name], "default", None)
    source = f"CLAPCLI_{known.name.upper()}" if found.variable else "config file"
    return Entry(known.name, str(found.value), source, None if in_file is None else str(in_file))


def entries() -> list[Entry]:
    return [entry(key) for key in config_file.KEYS]


def set_value(key: str, raw: str) -> tuple[Entry, Path]:
    """Write ``key = raw`` (checked) to the config file; the entry as it applies afterwards (a variable
    may still override it, which the caller says)."""
    known = _known(key)
    value = config_file.coerce(known, raw, known.name)
    data = dict(config_file.read())
    data[known.name] = value
    path = config_file.write(data)
    return entry(known.name), path


def unset(key: str) -> bool:
    """Remove ``key`` from the file; False when it was not there. Unknown keys already in the file can be
    removed too (they make the file unreadable otherwise)."""
    name = key.strip().lower()
    data = _raw_file()
    if name not in data:
        if name not in config_file.KEYS:
            _known(name)
        return False
    del data[name]
    config_file.write(data)
    return True


def _raw_file() -> dict:
    """The file's content without the checks ``read`` makes (so that ``unset`` can repair it)."""
    path = config_file.config_path()
    if not path.exists():
        return {}
    try:
        return dict(config_file.tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, config_file.tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"config file {path}: cannot be read ({exc}); fix it or remove it") from None


# --- model aliases -------------------------------------------------------------------------------

def aliases() -> dict[str, str]:
    return settings.user_aliases()


def add_alias(name: str, target: str, force: bool = False) -> str:
    """Store ``name -> target`` and return the stored target: a local directory is stored as its
    absolute path (the alias then works from any folder), a hub id or built-in alias as given."""
    from clapcli.models import registry

    name, target = name.strip(), target.strip()
    if not name or "/" in name or name.startswith((".", "~")):
        raise UsageError(f"alias '{name}': give a short name without '/' (e.g. birds)")
    builtin = {**registry.EMBEDDING_ALIASES, **registry.GENERATION_ALIASES}
    if name in builtin:
        raise UsageError(f"alias '{name}' is built in ({builtin[name]}); choose another name")
    if not target:
        raise UsageError(f"alias '{name}': give a model (a local directory, a hub id or an alias)")
    path = Path(target).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"alias '{name}': '{target}' is a file; give the model's directory")
        target = str(path.resolve())
    elif target.startswith((".", "/", "~")):
        raise UsageError(f"alias '{name}': directory '{target}' does not exist")
    elif target not in builtin and target.count("/") != 1:
        raise UsageError(f"alias '{name}': '{target}' is neither a directory, a built-in alias nor a hub id "
                         "(owner/name)")
    data = dict(config_file.read())
    table = dict(data.get(config_file.ALIASES, {}))
    if name in table and table[name] != target and not force:
        raise InvalidField("force", "alias {name!r} already names {old}; {force} points it at {new}",
                           name=name, old=table[name], new=target)
    table[name] = target
    data[config_file.ALIASES] = table
    config_file.write(data)
    return target


def remove_alias(name: str) -> str:
    """Remove the user alias ``name``; returns what it named."""
    data = dict(config_file.read())
    table = dict(data.get(config_file.ALIASES, {}))
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise UsageError(f"no user alias '{name}' (yours: {known}; 'clap models' lists the built-in ones)")
    target = table.pop(name)
    data[config_file.ALIASES] = table
    config_file.write(data)
    return target
