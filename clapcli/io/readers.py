"""Turn command-line inputs into a stream of paths: files, directories, globs and ``-`` (stdin).

Problems with an input (no match, unreadable directory) are reported as ``FailedInput`` records
so the remaining inputs are still processed.

Directories are walked following links, but each real directory (device, inode) is entered once
and each file is listed once per call, however many arguments, links or loops reach it: the first
way that reaches it names it. Files named explicitly (arguments, stdin lines, glob matches) are
always used as given.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from clapcli.errors import UsageError
from clapcli.results import FailedInput

GLOB_CHARS = set("*?[")


def read_lines(stream: TextIO) -> Iterator[str]:
    """Non-empty, stripped lines (stdin path lists, label and text files)."""
    for line in stream:
        line = line.strip()
        if line:
            yield line


def _not_comments(lines: Iterable[str]) -> list[str]:
    return [line for line in lines if not line.startswith("#")]


def read_text_file(path: str | Path, what: str) -> list[str]:
    """Lines of a labels/texts/captions/prompts file, ``-`` for stdin: blank lines and ``#`` comment
    lines are skipped, the rest stripped."""
    if str(path) == "-":
        return _not_comments(read_lines(sys.stdin))
    try:
        with open(path, encoding="utf-8-sig") as handle:  # a BOM (Windows editors) is not part of a label
            return _not_comments(read_lines(handle))
    except FileNotFoundError:
        raise UsageError(f"{what} file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} file '{path}' cannot be read: {exc}") from None


def expand_inputs(
    inputs: Iterable[str], extensions: frozenset[str], stdin: TextIO | None = None
) -> Iterator[Path | FailedInput]:
    """Yield files (in a stable, sorted order per argument) or failures, never raising per input."""
    seen = _Seen()
    for raw in inputs:
        if raw == "-":
            for line in read_lines(stdin or sys.stdin):
                yield from _expand_one(line, extensions, seen)
        else:
            yield from _expand_one(raw, extensions, seen)


FileKey = tuple[int, int] | str


class _Seen:
    """What one ``expand_inputs`` call has already listed: real directories and files."""

    def __init__(self) -> None:
        self.dirs: set[tuple[int, int]] = set()
        self.files: set[FileKey] = set()

    def enter(self, directory: str) -> bool:
        """True the first time the real directory behind ``directory`` is reached."""
        try:
            info = os.stat(directory)
        except OSError:
            return True  # os.walk reports why it cannot be read
        key = (info.st_dev, info.st_ino)
        if key in self.dirs:
            return False
        self.dirs.add(key)
        return True

    def add(self, path: Path) -> bool:
        """Record a file; True the first time (links and hard links share the target's identity)."""
        try:
            info = os.stat(path)
            key: FileKey = (info.st_dev, info.st_ino)
        except OSError:  # a dangling link: known only by its name
            key = os.path.abspath(path)
        if key in self.files:
            return False
        self.files.add(key)
        return True


def _expand_one(raw: str, extensions: frozenset[str], seen: _Seen) -> Iterator[Path | FailedInput]:
    path = Path(raw).expanduser()
    if path.is_dir():
        yield from _walk(path, extensions, seen)
    elif path.exists() or path.is_symlink():
        seen.add(path)
        yield path  # an explicit file is tried whatever its extension
    elif GLOB_CHARS & set(raw):
        matches = sorted(glob.glob(os.path.expanduser(raw), recursive=True))
        if not matches:
            yield FailedInput(raw, "no file matches this pattern")
        for match in matches:
            if Path(match).is_dir():
                yield from _walk(Path(match), extensions, seen)
            else:
                seen.add(Path(match))
                yield Path(match)
    else:
        yield FailedInput(raw, "no such file or directory")


def _walk(directory: Path, extensions: frozenset[str], seen: _Seen) -> Iterator[Path | FailedInput]:
    found = False  # a supported file, even one listed earlier: then the directory is not "empty"
    errors: list[OSError] = []
    for root, dirs, files in os.walk(directory, onerror=errors.append, followlinks=True):
        if not seen.enter(root):
            # Reached again (a loop, a second link, an argument inside an earlier one): its
            # files are already listed, and not descending is what ends a loop.
            dirs.clear()
            found = found or root == str(directory)
            continue
        dirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in extensions and not name.startswith("._"):
                found = True
                if seen.add(Path(root) / name):
                    yield Path(root) / name
    for error in errors:
        yield FailedInput(str(error.filename or directory), f"cannot read directory ({error.strerror})")
    if not found and not errors:
        yield FailedInput(str(directory), "directory contains no supported files")
