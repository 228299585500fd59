"""What every writer shares: format choice, the destination (stdout or an ``OutputFile``) and the
``Writer`` protocol (``write`` rows, ``write_failure``, ``close`` publishes; a failed write removes
the partial file)."""

from __future__ import annotations

import csv
import io
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, ClassVar

from clapcli.errors import InvalidField
from clapcli.io.target import OutputFile

RECORD_FORMATS = ("table", "csv", "json", "jsonl")
EMBEDDING_FORMATS = ("jsonl", "json", "csv", "npy", "parquet", "safetensors")
BINARY_FORMATS = frozenset({"npy", "parquet", "safetensors"})

def format_from_path(path: str | Path | None, explicit: str | None, allowed: tuple[str, ...], default: str) -> str:
    """``--format`` wins; otherwise the output file's extension; otherwise ``default``."""
    if explicit:
        fmt = explicit.lower()
    elif path is not None and Path(path).suffix:
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in allowed:
            raise InvalidField("output", "{output} {path}: unknown extension '.{ext}'; use one of {known} or {fmt}",
                               path=path, ext=fmt, known=", ".join(allowed))
    else:
        fmt = default
    if fmt not in allowed:
        raise InvalidField("fmt", "{fmt} {value}: choose one of {known}", value=fmt, known=", ".join(allowed))
    return fmt


def check_output_path(path: Path, overwrite: bool) -> None:
    """Fail early (before loading a model) on an output that cannot or must not be written."""
    OutputFile(path, overwrite, binary=False)  # inspects only; nothing is created


def default_record_format(explicit: str | None, output: Path | None) -> str:
    """Table for a human on a terminal, CSV for a pipe, the extension for a file."""
    if explicit or output is not None:
        return format_from_path(output, explicit, RECORD_FORMATS, "csv")
    return "table" if sys.stdout.isatty() else "csv"


class Destination:
    """stdout (or any stream) or an ``OutputFile``; turns a failed file write into one ``OutputError``."""

    def __init__(self, file: OutputFile | None = None, stream: IO[Any] | None = None) -> None:
        self.file = file
        self._stream = stream
        self.failed = False

    @classmethod
    def open(cls, output: Path | None, overwrite: bool, binary: bool) -> Destination:
        return cls(file=OutputFile(output, overwrite, binary)) if output is not None else cls()

    @property
    def stream(self) -> IO[Any]:
        if self.file is not None:
            return self.file.handle
        return self._stream or sys.stdout

    @property
    def name(self) -> str:
        return str(self.file.requested) if self.file is not None else "stdout"

    @contextmanager
    def guard(self):
        try:
            yield
        except OSError as exc:
            if self.file is None:
                raise  # stdout: a closed pipe is the CLI boundary's business
            self.failed = True
            raise self.file.write_failed(exc) from None

    def commit(self) -> None:
        if self.file is not None:
            self.file.commit()
        else:
            self.stream.flush()

    def discard(self) -> None:
        if self.file is not None:
            self.file.discard()


class Writer:
    """Base: ``write`` rows, ``write_failure`` for inputs that failed, ``close`` to publish."""

    binary: ClassVar[bool] = False

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self.count = 0
        self.closed = False

    @property
    def stream(self) -> IO[Any]:
        return self.destination.stream

    def write(self, row: Any) -> None:
        with self.destination.guard():
            self._write(row)
        self.count += 1

    def write_failure(self, source: str, reason: str, key: str = "path") -> None:
        """Formats with a place for failures (JSON, JSONL) list them; the others ignore them."""

    def close(self) -> None:
        """Finish and publish: what was written so far becomes a valid, complete file."""
        if self.closed:
            return
        self.closed = True
        if self.destination.failed:
            return  # the partial file is already gone
        with self.destination.guard():
            self._finish()
        self.destination.commit()

    def _write(self, row: Any) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """What a format writes at the end (a closing bracket, a binary file)."""

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None and self.count == 0:
            self.closed = True
            self.destination.discard()  # interrupted before any row: publish nothing
            return
        self.close()  # on Ctrl-C/SIGTERM too: the complete rows are kept


# ---------------------------------------------------------------- records


def csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()  # one write per row: an interruption never leaves half a row


def csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value
