"""Turn command-line inputs into a stream of paths: files, directories, globs and ``-`` (stdin).

Problems with an input (no match, unreadable directory) are reported as ``Failure`` records
so the remaining inputs are still processed.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from clapcli.errors import UsageError


@dataclass(frozen=True)
class Failure:
    """An input that could not be used, with a one-line reason."""

    source: str
    reason: str


GLOB_CHARS = set("*?[")


def read_lines(stream: TextIO) -> Iterator[str]:
    """Non-empty, stripped lines (stdin path lists, label and text files)."""
    for line in stream:
        line = line.strip()
        if line:
            yield line


def read_text_file(path: str | Path, what: str) -> list[str]:
    """Non-empty lines of a labels/texts/captions file, ``-`` for stdin."""
    if str(path) == "-":
        return list(read_lines(sys.stdin))
    try:
        with open(path, encoding="utf-8") as handle:
            return list(read_lines(handle))
    except FileNotFoundError:
        raise UsageError(f"{what} file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} file '{path}' cannot be read: {exc}") from None


def expand_inputs(
    inputs: Iterable[str], extensions: frozenset[str], stdin: TextIO | None = None
) -> Iterator[Path | Failure]:
    """Yield files (in a stable, sorted order per argument) or failures, never raising per input."""
    for raw in inputs:
        if raw == "-":
            for line in read_lines(stdin or sys.stdin):
                yield from _expand_one(line, extensions, explicit=True)
        else:
            yield from _expand_one(raw, extensions, explicit=True)


def _expand_one(raw: str, extensions: frozenset[str], explicit: bool) -> Iterator[Path | Failure]:
    path = Path(raw).expanduser()
    if path.is_dir():
        yield from _walk(path, extensions)
    elif path.exists() or path.is_symlink():
        yield path  # an explicit file is tried whatever its extension
    elif GLOB_CHARS & set(raw):
        matches = sorted(glob.glob(os.path.expanduser(raw), recursive=True))
        if not matches:
            yield Failure(raw, "no file matches this pattern")
        for match in matches:
            yield from (_walk(Path(match), extensions) if Path(match).is_dir() else [Path(match)])
    else:
        yield Failure(raw, "no such file or directory")


def _walk(directory: Path, extensions: frozenset[str]) -> Iterator[Path | Failure]:
    found = False
    errors: list[OSError] = []
    for root, dirs, files in os.walk(directory, onerror=errors.append, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in extensions and not name.startswith("._"):
                found = True
                yield Path(root) / name
    for error in errors:
        yield Failure(str(error.filename or directory), f"cannot read directory ({error.strerror})")
    if not found and not errors:
        yield Failure(str(directory), "directory contains no supported files")
