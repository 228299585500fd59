"""Glue shared by the commands: model loading from options, input collection, failure accounting."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from clapcli.commands.output import Output
from clapcli.errors import InputError, PartialFailure, UsageError
from clapcli.results import FailedInput
from clapcli.text import plural


@dataclass
class ModelOptions:
    model: str | None
    device: str | None
    dtype: str
    quantize: str | None = None
    long_audio: str | None = None
    runtime: str | None = None
    precision: str | None = None

    def load(self) -> Any:
        from clapcli.models.loading import load_embedding_model

        return load_embedding_model(self.model, self.device or "", self.dtype, self.quantize, self.long_audio,
                                    self.runtime, self.precision)


def collect_sources(inputs: list[str], modality: str) -> list:
    from clapcli.io.readers import expand_inputs
    from clapcli.media.kinds import extensions_for

    if inputs.count("-") > 1:
        raise UsageError("'-' (paths from stdin) can be given only once")
    stdin = None
    if "-" in inputs:
        stdin = _stdin_paths()
    return list(expand_inputs(inputs, extensions_for(modality), stdin))


def _stdin_paths() -> Any:
    """The path list of ``-``, read whole; none at all is a usage error (``find`` matched nothing, a
    forgotten pipe), not a silent success."""
    import io
    import sys

    from clapcli.io.readers import read_lines

    lines = list(read_lines(sys.stdin))
    if not lines:
        raise UsageError("'-' reads paths from stdin, one per line, but stdin was empty; pipe a list in "
                         "(find . -name '*.wav' | clap embed -) or give files on the command line")
    return io.StringIO("\n".join(lines))


class FailureLog:
    """Names each failed input on stderr as it happens; ``finish`` prints the end-of-run summary
    (inputs, failed, seconds, throughput; not with --quiet) and raises ``PartialFailure`` (exit 3)
    when some inputs failed, or ``InputError`` (exit 1) when every one did (nothing was produced)."""

    def __init__(self, output: Output) -> None:
        self.output = output
        self.failed: list[FailedInput] = []
        self.started = time.monotonic()

    def add(self, failure: FailedInput) -> None:
        self.failed.append(failure)
        self.output.failed(failure.source, failure.reason)

    def finish(self, done: int, what: str, summary: bool = True) -> None:
        failed, total = len(self.failed), done + len(self.failed)
        if summary and not self.output.quiet:
            self.output.summary(self.summary_line(done, what))
        if failed and not done:
            raise InputError(f"every input failed ({plural(failed, 'input')}, each named above)")
        if failed:
            raise PartialFailure(f"{failed} of {plural(total, 'input')} failed")

    def summary_line(self, done: int, what: str) -> str:
        seconds = time.monotonic() - self.started
        failed = f", [red]{len(self.failed)} failed[/]" if self.failed else ""
        total = done + len(self.failed)
        rate = f", {total / seconds:.1f} inputs/s" if seconds >= 0.5 and total else ""
        return f"{counted(done, what)}{failed} in {seconds:.1f} s{rate}"


def counted(count: int, what: str) -> str:
    """``counted(1, "embeddings written")`` -> "1 embedding written" (the first word is the noun)."""
    noun, _, rest = what.partition(" ")
    if count == 1:
        noun = noun[:-3] + "y" if noun.endswith("ies") else noun.removesuffix("s")
    return f"{count} {noun} {rest}".rstrip()


@contextmanager
def kept_on_interrupt(describe: Callable[[], str]) -> Iterator[None]:
    """On Ctrl-C / SIGTERM, attach ``describe()`` (what was kept, how to go on) to the interruption;
    the CLI boundary prints it as one line ("interrupted: 14 of 40 rows written to out.parquet; ...")."""
    try:
        yield
    except KeyboardInterrupt as exc:
        try:
            exc.kept = describe()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - the interruption itself must go on
            pass
        raise


def kept_rows(writer: Any, total: int | None, what: str = "rows") -> str:
    """"14 of 40 rows written to out.parquet; rerun with --overwrite ..." for an interrupted writer."""
    name = writer.destination.name
    of = f" of {total}" if total is not None else ""
    if writer.count == 0:
        return f"nothing was written to {name} (no {what} were complete)"
    if writer.destination.file is None:
        return f"{writer.count}{of} {what} written to {name}"
    return f"{writer.count}{of} {what} written to {name}; rerun with --overwrite to redo all of them"
