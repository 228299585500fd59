"""stderr for humans (progress, hints, per-input failures); stdout stays for data."""

from __future__ import annotations

import sys
from functools import lru_cache

from rich.console import Console
from rich.markup import escape

from clapcli.text import printable


@lru_cache(maxsize=1)
def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def safe(message: str) -> str:
    """A message with untrusted parts (file names) made inert: no control characters, no markup."""
    return escape(printable(message))


def warn(message: str) -> None:
    stderr_console().print(f"[yellow]warning:[/] {safe(message)}", soft_wrap=True)


def info(message: str, quiet: bool = False) -> None:
    if not quiet:
        stderr_console().print(safe(message))


def input_failed(name: str, reason: str) -> None:
    """One line per failed input, naming it and the reason."""
    stderr_console().print(f"[red]failed:[/] {safe(name)}: {safe(reason)}", soft_wrap=True)


def expectation_failed(message: str) -> None:
    stderr_console().print(f"[red]expectation not met:[/] {safe(message)}", soft_wrap=True)
