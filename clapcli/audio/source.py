"""What ``clapcli.audio.decode`` reads: a path, bytes in memory, or a binary file object.

Each becomes a ``Source``: the name messages use, and ``handle()``, which gives what soundfile and
PyAV open (the path itself, or a file object at its start). Both decoders open a source more than
once (header, then blocks; soundfile, then PyAV), so bytes get a fresh ``BytesIO`` each time and a
seekable file object is rewound. Bytes come from object stores (the Ray engine reads files with
``read_binary_files``); decoding them here keeps one decoder for every engine.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

from clapcli.errors import InputError

# Anything ``open_audio`` / ``load_audio`` decode.
AudioInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO]


@dataclass(frozen=True)
class Source:
    name: str  # what messages call the input: the path, or the caller's name for bytes
    handle: Callable[[], str | BinaryIO]  # a path string or a file object at the input's first byte
    path: Path | None = None  # set for files on disk


def as_source(audio: AudioInput, name: str | None = None) -> Source:
    """``audio`` as a ``Source``; ``InputError`` for a directory, a missing path or an empty input.

    ``name`` names bytes and file objects in messages (default: the file object's ``name``, else
    ``<bytes>``); a path is always named by itself, as before bytes were accepted."""
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return _bytes_source(bytes(audio), name or "<bytes>")
    if hasattr(audio, "read"):
        return _file_object_source(audio, name or str(getattr(audio, "name", "<file object>")))  # type: ignore[arg-type]
    return _path_source(Path(audio))  # type: ignore[arg-type]


def missing_reason(path: Path) -> str:
    return "a link to a missing file" if path.is_symlink() else "no such file"


def _path_source(path: Path) -> Source:
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an audio file")
    if not path.exists():
        raise InputError(f"{path}: {missing_reason(path)}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    text = str(path)
    return Source(text, lambda: text, path)


def _bytes_source(data: bytes, name: str) -> Source:
    if not data:
        raise InputError(f"{name}: empty file (0 bytes)")
    return Source(name, lambda: io.BytesIO(data))


def _file_object_source(file: BinaryIO, name: str) -> Source:
    """A seekable file object is decoded in place, rewound for each opening; any other (a pipe, a
    socket) is read into memory once, since the decoders need to seek."""
    if not _seekable(file):
        return _bytes_source(file.read(), name)
    if file.seek(0, os.SEEK_END) == 0:
        raise InputError(f"{name}: empty file (0 bytes)")

    def rewound() -> BinaryIO:
        file.seek(0)
        return file

    return Source(name, rewound)


def _seekable(file: BinaryIO) -> bool:
    try:
        return bool(file.seekable())
    except (AttributeError, OSError, ValueError):
        return False
