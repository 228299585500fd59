"""Glue shared by the commands: model loading from options, progress, the end-of-run summary."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer

from clapcli.console import input_failed, stderr_console
from clapcli.core.results import FailedInput
from clapcli.errors import EXIT_PARTIAL, UsageError


@dataclass
class ModelOptions:
    model: str | None
    device: str | None
    dtype: str
    quantize: str | None = None
    long_audio: str | None = None

    def load(self) -> Any:
        from clapcli.models.loading import load_embedding_model

        return load_embedding_model(self.model, self.device or "", self.dtype, self.quantize, self.long_audio)


def collect_sources(inputs: list[str], modality: str) -> list:
    from clapcli.io.readers import expand_inputs
    from clapcli.media.kinds import extensions_for

    if inputs.count("-") > 1:
        raise UsageError("'-' (paths from stdin) can be given only once")
    return list(expand_inputs(inputs, extensions_for(modality)))


@contextmanager
def progress_bar(total: int | None, description: str, quiet: bool) -> Iterator[Any]:
    """A rich progress bar on stderr when it is a terminal; yields ``advance(n)``."""
    if quiet or not sys.stderr.isatty():
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=stderr_console(), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


class FailureLog:
    """Names each failed input on stderr as it happens and decides the exit code at the end."""

    def __init__(self) -> None:
        self.failed: list[FailedInput] = []

    def add(self, failure: FailedInput) -> None:
        self.failed.append(failure)
        input_failed(failure.source, failure.reason)

    def exit_if_any(self, done: int, what: str, quiet: bool) -> None:
        if not quiet or self.failed:
            stderr_console().print(
                f"{done} {what}" + (f", [red]{len(self.failed)} failed[/]" if self.failed else ""),
                highlight=False,
            )
        if self.failed:
            raise typer.Exit(EXIT_PARTIAL)
