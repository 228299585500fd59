"""The one output object of the CLI layer: data to stdout, everything for humans to stderr.

stdout carries results only (records, JSON documents); progress bars, notes, warnings, per-input
failures and errors go to stderr, made inert (no control characters, no rich markup from file
names). ``--quiet`` silences notes, warnings and progress, never failures or errors. Lower layers never print:
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
        """Warnings (deprecations, emulated bf16, skipped rows); --quiet leaves only failures and errors."""
        if not (self.quiet or _Session.quiet):
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
    def progress(self, total: int | None, description: str) -> Iterator[Callable[[float], None]]:
        """A rich progress bar on stderr when it is a terminal (and not --quiet); yields ``advance(n)``
        (a long input advances it by fractions, chunk by chunk)."""
        if self.quiet or not sys.stderr.isatty():
            yield lambda n=1: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        # rich would replace sys.stdout while the bar is drawn: data redirected to a file or a pipe would
        # land in the bar instead. Only when stdout is the terminal too is that what the user sees anyway.
        with Progress(*columns, console=stderr_console(), transient=True,
                      redirect_stdout=sys.stdout.isatty()) as bar:
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


_QUIET_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error", "DIFFUSERS_VERBOSITY": "error"}


class _Session:
    quiet = False  # --quiet was given (set while parsing, before the command runs)
    saved_env: dict[str, str | None] = {}


def set_quiet() -> None:
    """--quiet: third-party warnings, logs and progress bars are silenced for the rest of the run
    (the variables are read when huggingface_hub, transformers and diffusers are imported)."""
    import os

    _Session.quiet = True
    for name, value in _QUIET_ENV.items():
        _Session.saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value


def session_quiet() -> bool:
    """Whether this invocation got --quiet (for messages printed before an ``Output`` exists)."""
    return _Session.quiet


def reset_session() -> None:
    """A new invocation (in-process runs, tests): not quiet until --quiet is parsed again."""
    import os

    _Session.quiet = False
    for name, value in _Session.saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _Session.saved_env = {}


def quiet_libraries_off_terminal() -> None:
    """Progress bars of the libraries (tqdm: 'Writing model shards', 'Loading weights') are for a
    terminal; a log file or a pipe gets none."""
    import os

    if not sys.stderr.isatty():
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def route_warnings(output: Output) -> None:
    """Show ``ClapcliWarning``s (from lower layers) as one ``warning:`` line; a library's warnings
    folded into one line too (their first line, category and module), none of them with --quiet."""

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings' signature
        if issubclass(category, ClapcliWarning):
            output.warning(str(message))
        elif not _Session.quiet:
            text = str(message).strip()
            first = text.splitlines()[0] if text else category.__name__
            output.warning(f"{first} ({category.__name__} from {_module_of(filename)})")

    warnings.showwarning = show
    if not any(f[2] is ClapcliWarning for f in warnings.filters):
        warnings.simplefilter("always", ClapcliWarning)
    _route_logs(output)


def _module_of(filename: str) -> str:
    """'transformers' for .../site-packages/transformers/models/x.py; the file name otherwise."""
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    return parts[-1]


class _LogToOutput(logging.Handler):
    """Records of the ``clapcli`` logger as notes (INFO) or warnings (WARNING and above)."""

    def __init__(self, output: Output) -> None:
        super().__init__(logging.INFO)
        self.output = output

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            self.output.warning(message)
        elif not _Session.quiet:  # notes are not for --quiet
            self.output.note(message)


_LIBRARY_LOGGERS = ("transformers", "diffusers", "huggingface_hub")


class _FoldLibraryRecords(logging.Filter):
    """On the libraries' own stderr handlers: a record becomes one ``warning:`` line of ours (its first
    line, naming the library) instead of raw, possibly multi-line text; nothing with --quiet."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        self.output = output

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            text = record.getMessage().strip()
            first = text.splitlines()[0] if text else record.levelname
            self.output.warning(f"{first} ({record.name.split('.')[0]})")
        return False


def _fold_library_logs(output: Output) -> None:
    """transformers, diffusers and huggingface_hub add a plain StreamHandler to their root logger when
    first used; each handler added there gets the folding filter (the loggers exist before the
    libraries are imported, so this costs no import)."""
    fold = _FoldLibraryRecords(output)
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            _refold(handler, fold)

        def add(handler: logging.Handler, logger: logging.Logger = logger) -> None:
            _refold(handler, fold)
            logging.Logger.addHandler(logger, handler)

        logger.addHandler = add  # type: ignore[method-assign]


def _refold(handler: logging.Handler, fold: _FoldLibraryRecords) -> None:
    # Only the libraries' own plain stderr handler: handlers that others attach to these loggers (a
    # log file, pytest's capture, which since pytest 9.2 also joins non-propagating loggers) keep
    # getting every record.
    if type(handler) is not logging.StreamHandler:
        return
    for old in [f for f in handler.filters if isinstance(f, _FoldLibraryRecords)]:
        handler.removeFilter(old)  # one per process, however many times the app is invoked
    handler.addFilter(fold)


def _route_logs(output: Output) -> None:
    _fold_library_logs(output)
    # A library user sees nothing unless they configure logging; the CLI shows INFO and up.
    logger = logging.getLogger("clapcli")
    for handler in [h for h in logger.handlers if isinstance(h, _LogToOutput)]:
        logger.removeHandler(handler)  # one per process, however many times the app is invoked
    logger.addHandler(_LogToOutput(output))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
