"""Run ``clap`` as a user does: stderr on a terminal (a pseudo-terminal), stdout to a file or a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass
class TerminalRun:
    returncode: int
    terminal: str  # what the terminal (stderr) showed
    stdout: bytes  # what reached the pipe (empty when stdout went to a file)


def run_on_terminal(args: list[str], stdout_file: Path | None = None, read_lines: int | None = None,
                    env: dict[str, str] | None = None, timeout: float = 300) -> TerminalRun:
    """``python -m clapcli ARGS`` with stderr on a pty. stdout goes to ``stdout_file``, or to a pipe; with
    ``read_lines`` the pipe is closed after that many lines, as ``| head -N`` does."""
    master, slave = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24", **(env or {})}
    full_env.pop("NO_COLOR", None)
    target = open(stdout_file, "wb") if stdout_file is not None else subprocess.PIPE  # noqa: SIM115
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        process = subprocess.Popen([sys.executable, "-m", "clapcli", *map(str, args)], stdin=subprocess.DEVNULL,
                                   stdout=target, stderr=slave, env=full_env)
        os.close(slave)
        piped = b""
        if stdout_file is None and read_lines is not None:
            lines = [process.stdout.readline() for _ in range(read_lines)]  # type: ignore[union-attr]
            process.stdout.close()  # type: ignore[union-attr]
            piped = b"".join(lines)
        elif stdout_file is None:
            piped = process.stdout.read()  # type: ignore[union-attr]
        process.wait(timeout=timeout)
    finally:
        if stdout_file is not None:
            target.close()  # type: ignore[union-attr]
    reader.join(timeout=5)
    os.close(master)
    return TerminalRun(process.returncode, shown.decode("utf-8", "replace"), piped)
