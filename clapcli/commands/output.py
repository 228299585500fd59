"""The one output object of the CLI layer: data to stdout, everything for humans to stderr.

stdout carries results only (records, JSON documents); progress bars, notes, warnings, per-input
failures and errors go to stderr, made inert (no control characters, no rich markup from file
names). ``--quiet`` silences notes and progress, never failures or errors. Lower layers never print:
they return values, raise ``clapcli.errors`` exceptions, emit ``ClapcliWarning``s, or log what
they do to the ``clapcli`` logger (a one-time checkpoint conversion, say); ``route_warnings`` sends
both here.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from rich.console import Console
from rich.markup import escape

from clapcli.errors import ClapcliWarning
from clapcli.text import printable


@lru_cache(maxsize=1)
def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def safe(message: str) -> str:
    """A message with untrusted parts (file names) made inert: no control characters, no markup."""
    return escape(printable(message))


class Output:
    """What one command says, in the spirit of huggingface_hub's CLI ``Output``."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    # ---------------------------------------------------------------- stderr

    def note(self, message: str) -> None:
        """Progress notes and summaries; silenced by --quiet."""
        if not self.quiet:
            self._err(safe(message))

    def warning(self, message: str) -> None:
        self._err(f"[yellow]warning:[/] {safe(message)}")

    def failed(self, name: str, reason: str) -> None:
        """One line per failed input, naming it and the reason (shown even with --quiet)."""
        self._err(f"[red]failed:[/] {safe(name)}: {safe(reason)}")

    def expectation_failed(self, message: str) -> None:
        self._err(f"[red]expectation not met:[/] {safe(message)}")

    def error(self, message: str) -> None:
        self._err(f"[bold red]error:[/] {safe(message)}")

    def summary(self, message: str) -> None:
        """The end-of-run line; ``[red]`` markup allowed (the caller builds it from numbers)."""
        self._err(message)

    def _err(self, markup: str) -> None:
        stderr_console().print(markup, highlight=False, soft_wrap=True)

    @contextmanager
    def progress(self, total: int | None, description: str) -> Iterator[Callable[[int], None]]:
        """A rich progress bar on stderr when it is a terminal (and not --quiet); yields ``advance(n)``."""
        if self.quiet or not sys.stderr.isatty():
            yield lambda n=1: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=stderr_console(), transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)

    @property
    def progress_on_terminal(self) -> bool:
        return not self.quiet and sys.stderr.isatty()

    # ---------------------------------------------------------------- stdout

    def json(self, document: Any) -> None:
        """One JSON document (a report, a summary) on stdout."""
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        sys.stdout.flush()

    def jsonl(self, record: dict) -> None:
        """One JSON line on stdout, flushed so a pipe sees it at once."""
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def route_warnings(output: Output) -> None:
    """Show ``ClapcliWarning``s (from lower layers) as one ``warning:`` line; others as Python would."""
    default = getattr(warnings.showwarning, "clapcli_default", warnings.showwarning)

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings' signature
        if issubclass(category, ClapcliWarning):
            output.warning(str(message))
        else:
            default(message, category, filename, lineno, file, line)

    show.clapcli_default = default  # type: ignore[attr-defined]
    warnings.showwarning = show
    if not any(f[2] is ClapcliWarning for f in warnings.filters):
        warnings.simplefilter("always", ClapcliWarning)
    _route_logs(output)


class _LogToOutput(logging.Handler):
    """Records of the ``clapcli`` logger as notes (INFO) or warnings (WARNING and above)."""

    def __init__(self, output: Output) -> None:
        super().__init__(logging.INFO)
        self.output = output

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            self.output.warning(message)
        else:
            self.output.note(message)


def _route_logs(output: Output) -> None:
    # A library user sees nothing unless they configure logging; the CLI shows INFO and up.
    logger = logging.getLogger("clapcli")
    for handler in [h for h in logger.handlers if isinstance(h, _LogToOutput)]:
        logger.removeHandler(handler)  # one per process, however many times the app is invoked
    logger.addHandler(_LogToOutput(output))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
