"""Guards against losing the user's files: ask before a destructive step (a question on a terminal,
``--yes`` everywhere else), and never take an option swallowed by ``--db`` for a file name."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from clapcli.errors import UsageError

YES = ("y", "yes")

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Go ahead without asking (needed off a terminal).")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")]


def confirm(question: str, refusal: str, yes: bool) -> bool:
    """True when the step may go ahead: ``yes`` (``--yes``), or y/yes typed at the terminal.

    Off a terminal (a script, a pipe) there is no one to ask: without ``--yes`` this raises a
    usage error "REFUSAL: stdin is not a terminal ...; pass --yes ..." and nothing is done. End of
    input or any other answer is a no."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{refusal}: stdin is not a terminal, so there is no one to ask; pass --yes to go ahead")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):  # end of input (Ctrl-D): end the prompt's line
        sys.stderr.write("\n")
    return answer.strip().lower() in YES


def _parser_usage_error(message: str) -> Exception:
    """A usage error of the click the parser runs on (typer 0.29 vendors its own as typer._click)."""
    exceptions = getattr(getattr(typer, "_click", None), "exceptions", click.exceptions)
    return exceptions.UsageError(message)


def db_file(value: Path | None) -> Path | None:
    """Callback of --db: a value starting with '-' is the next option swallowed by a --db given no
    value ('--db -c drums'), not a file name."""
    if value is not None and str(value).startswith("-"):
        raise _parser_usage_error(f"--db needs a file name; '{value}' looks like an option "
                                  f"(a file of that name: --db ./{value})")
    return value
