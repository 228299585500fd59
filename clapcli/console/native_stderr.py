"""Folding what C libraries write straight to file descriptor 2 into our own one-line messages.

libmpg123 (inside libsndfile) prints ``Note: Illegal Audio-MPEG-Header ...`` and
``[src/libmpg123/layer3.c:...] error: ...`` lines for a damaged MP3 with ``fprintf(stderr)``: Python's
warning and logging filters never see them. For the length of a command, fd 2 is a pipe read by a
thread, while Python's own ``sys.stderr`` (rich, our ``Output``) writes to a duplicate of the real
stderr. Decoder chatter becomes one ``warning:`` line at the end of the run (none with ``--quiet``);
any other line is shown as a ``warning:`` line as it arrives, except the interpreter's own fatal
reports, which pass through whole.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from clapcli.text import printable

# libmpg123's own lines only: another library's "Warning: ..." is not an MP3 decoder's.
_MPG123 = re.compile(r"^(Note: (Illegal Audio-MPEG-Header|Trying to resync|Skipped \d+ bytes|Hit end of \(available\) "
                     r"data during resync)|\[src/libmpg123/"
                     r"|\[[^\]]*mpg123[^\]]*\])")
_PASS_THROUGH = ("Fatal Python error", "Traceback", "Current thread", "Thread 0x", "  File ")


class _Reader(threading.Thread):
    """Reads the pipe behind fd 2 line by line; decoder lines are counted, others shown at once."""

    def __init__(self, fd: int, show: Callable[[str], None], raw: Callable[[str], None]) -> None:
        super().__init__(name="clapcli-native-stderr", daemon=True)
        self.fd, self.show, self.raw = fd, show, raw
        self.decoder_lines: list[str] = []

    def run(self) -> None:
        with open(self.fd, "rb", closefd=True) as pipe:
            for chunk in pipe:
                self._line(chunk.decode("utf-8", "replace").rstrip("\r\n"))

    def _line(self, line: str) -> None:
        if not line.strip():
            return
        if _MPG123.match(line):
            self.decoder_lines.append(line)
        elif line.startswith(_PASS_THROUGH):
            self.raw(line)
        else:
            self.show(printable(line.strip()))


def decoder_summary(lines: list[str]) -> str | None:
    """One line for what libmpg123 said in a run, or None when it said nothing."""
    if not lines:
        return None
    first = next((line for line in lines if "Illegal" in line), None)
    first = first or next((line for line in lines if "error" in line), lines[0])
    first = re.sub(r"^(Note: |Warning: |\[[^\]]*\] )", "", first).strip()
    more = f"; {len(lines) - 1} more decoder message{'s' if len(lines) > 2 else ''}" if len(lines) > 1 else ""
    return (f"an MP3 input has damaged frames: the decoder skipped them and went on (libmpg123: {printable(first)}"
            f"{more})")


@contextmanager
def folded_native_stderr(warn: Callable[[str], None]) -> Iterator[None]:
    """Route fd 2 through the folding reader while the block runs (only when ``sys.stderr`` is fd 2:
    an in-process test runner's captured stream is left alone)."""
    if not _stderr_is_fd_2():
        yield
        return
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    python_stderr = sys.stderr
    sys.stderr = io.TextIOWrapper(io.FileIO(real, "w", closefd=False), encoding=python_stderr.encoding,
                                  errors="backslashreplace", line_buffering=True)
    reader = _Reader(read_end, warn, _write_raw)
    reader.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        _flush()
        os.dup2(real, 2)  # closes the pipe's last write end: the reader drains it and ends
        reader.join(timeout=1.0)  # a child process may still hold the pipe
        _flush()
        sys.stderr = python_stderr
        # ``real`` stays open: objects made during the block keep the wrapper as their stream (a
        # library's progress bar closed by the garbage collector at exit writes its last line then;
        # on a closed fd that was "Exception ignored in tqdm.__del__ ... Bad file descriptor").
        summary = decoder_summary(reader.decoder_lines)
        if summary:
            warn(summary)


def _stderr_is_fd_2() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def _flush() -> None:
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _write_raw(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
