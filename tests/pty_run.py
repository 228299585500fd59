"""Run ``clap`` with stderr on a pseudo-terminal (so it sees a terminal, as a user's shell gives it)
and stdout to a file: what a user sees on screen, separated from the data."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str  # everything written to the terminal, control sequences included
    seconds: float


def run_on_pty(args: list[object], env: dict, stdout: Path, timeout: float = 120.0,
               prelude: str | None = None) -> Run:
    """``python -m clapcli ARGS`` (or ``python -c PRELUDE`` then the CLI when ``prelude`` is given)."""
    master, slave = pty.openpty()
    # a fresh pseudo-terminal is 0 columns wide: tqdm would draw empty bars (a user's terminal has a size)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    command = [sys.executable, "-m", "clapcli", *map(str, args)]
    if prelude is not None:
        command = [sys.executable, "-c", prelude + "\nimport sys\nfrom clapcli.cli import main\n"
                   f"sys.argv = ['clap', *{[str(a) for a in args]!r}]\nmain()"]
    started = time.monotonic()
    with open(stdout, "wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            if time.monotonic() - started > timeout:
                process.kill()
                raise TimeoutError(f"clap {' '.join(map(str, args))} ran past {timeout} s; "
                                   f"terminal so far: {b''.join(chunks)[-2000:]!r}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer of the terminal is gone
                    data = b""
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                # drain what is left without blocking
                while select.select([master], [], [], 0.05)[0]:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    chunks.append(data)
                break
        process.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return Run(process.returncode, stdout.read_text(errors="replace"),
               b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"), time.monotonic() - started)
