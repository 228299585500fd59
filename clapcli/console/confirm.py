"""Asking before a destructive step: a question on a terminal, ``--yes`` everywhere else."""

from __future__ import annotations

import sys

from clapcli.errors import UsageError

YES = ("y", "yes")


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
