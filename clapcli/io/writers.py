"""Writers: one small class per format, chosen from a dict (records and embeddings).

A writer streams to stdout or to an ``OutputFile`` (``clapcli.io.target``), which publishes the
file only when it is complete and never replaces what it was not asked to. A write error (a full
disk) removes the partial file and raises one ``OutputError``; an interruption still publishes the
complete rows written so far. Failed inputs appear in JSON and JSONL outputs as
``{"path": ..., "error": ...}`` rows; the other formats have no place for them (stderr names them).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np

from clapcli.errors import UsageError
from clapcli.io.target import OutputFile
from clapcli.results import Embedding
from clapcli.text import printable

RECORD_FORMATS = ("table", "csv", "json", "jsonl")
EMBEDDING_FORMATS = ("jsonl", "json", "csv", "npy", "parquet", "safetensors")
BINARY_FORMATS = frozenset({"npy", "parquet", "safetensors"})
PARQUET_ROW_GROUP = 4096


def format_from_path(path: str | Path | None, explicit: str | None, allowed: tuple[str, ...], default: str) -> str:
    """``--format`` wins; otherwise the output file's extension; otherwise ``default``."""
    if explicit:
        fmt = explicit.lower()
    elif path is not None and Path(path).suffix:
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in allowed:
            raise UsageError(
                f"--output {path}: unknown extension '.{fmt}'; use one of {', '.join(allowed)} or --format"
            )
    else:
        fmt = default
    if fmt not in allowed:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(allowed)}")
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


class RecordWriter(Writer):
    """dict records in one format; ``columns`` name the fields of tabular formats."""

    def __init__(self, destination: Destination, columns: list[str], title: str | None = None) -> None:
        super().__init__(destination)
        self.columns = columns
        self.title = title


class CsvRecords(RecordWriter):
    def _write(self, record: dict) -> None:
        if self.count == 0:
            self._header()
        self.stream.write(_csv_line([_csv_value(record.get(c)) for c in self.columns]))
        self.stream.flush()  # a pipe reader sees each row as soon as it is computed

    def _header(self) -> None:
        self.stream.write(_csv_line(self.columns))

    def _finish(self) -> None:
        if self.count == 0:
            self._header()


class JsonlRecords(RecordWriter):
    def _write(self, record: dict) -> None:
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()

    def write_failure(self, source: str, reason: str, key: str = "path") -> None:
        self.write({key: source, "error": reason})


class JsonRecords(RecordWriter):
    """A JSON array, streamed element by element (memory stays flat)."""

    def _write(self, record: dict) -> None:
        separator = "[\n" if self.count == 0 else ",\n"
        self.stream.write(separator + _indent(json.dumps(record, ensure_ascii=False, indent=2)))

    def write_failure(self, source: str, reason: str, key: str = "path") -> None:
        self.write({key: source, "error": reason})

    def _finish(self) -> None:
        self.stream.write("[]\n" if self.count == 0 else "\n]\n")


class TableRecords(RecordWriter):
    """A rich table for a human on a terminal (built at the end, so columns fit)."""

    def __init__(self, destination: Destination, columns: list[str], title: str | None = None) -> None:
        super().__init__(destination, columns, title)
        self._rows: list[dict] = []

    def _write(self, record: dict) -> None:
        self._rows.append(record)

    def _finish(self) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=self.title, show_lines=False, header_style="bold")
        for column in self.columns:
            table.add_column(column, overflow="fold", justify="right" if column in ("rank", "score") else "left")
        for row in self._rows:
            table.add_row(*(_cell(row.get(c)) for c in self.columns))
        Console(file=self.stream, soft_wrap=False).print(table)


RECORD_WRITERS: dict[str, type[RecordWriter]] = {
    "table": TableRecords, "csv": CsvRecords, "json": JsonRecords, "jsonl": JsonlRecords,
}


def record_writer(fmt: str, output: Path | None, overwrite: bool, columns: list[str],
                  title: str | None = None, stream: IO[str] | None = None) -> RecordWriter:
    """The writer for ``fmt`` bound to ``output`` (a file), ``stream``, or stdout."""
    destination = Destination(stream=stream) if stream is not None else Destination.open(output, overwrite, False)
    return RECORD_WRITERS[fmt](destination, columns, title)


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()  # one write per row: an interruption never leaves half a row


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return printable(str(value))  # a file name must not drive the terminal


def _indent(text: str) -> str:
    return "  " + text.replace("\n", "\n  ")


# ---------------------------------------------------------------- embeddings


def embedding_record(row: Embedding, with_vector: bool = True) -> dict:
    record: dict[str, Any] = {
        "path" if row.kind != "text" else "text": row.source,
        "kind": row.kind,
        "duration": None if row.duration is None else round(float(row.duration), 6),
        "model": row.model,
    }
    if with_vector:
        record["embedding"] = [float(x) for x in row.vector]
    return record


class EmbeddingWriter(Writer):
    """Writes ``Embedding`` rows."""


class JsonlEmbeddings(EmbeddingWriter):
    def _write(self, row: Embedding) -> None:
        self.stream.write(json.dumps(embedding_record(row), ensure_ascii=False) + "\n")

    def write_failure(self, source: str, reason: str, key: str = "path") -> None:
        with self.destination.guard():
            self.stream.write(json.dumps({key: source, "error": reason}, ensure_ascii=False) + "\n")


class JsonEmbeddings(EmbeddingWriter):
    def __init__(self, destination: Destination) -> None:
        super().__init__(destination)
        self._elements = 0

    def _write(self, row: Embedding) -> None:
        self._element(embedding_record(row))

    def write_failure(self, source: str, reason: str, key: str = "path") -> None:
        with self.destination.guard():
            self._element({key: source, "error": reason})

    def _element(self, record: dict) -> None:
        separator = "[\n" if self._elements == 0 else ",\n"
        self.stream.write(separator + json.dumps(record, ensure_ascii=False))
        self._elements += 1

    def _finish(self) -> None:
        self.stream.write("[]\n" if self._elements == 0 else "\n]\n")


class CsvEmbeddings(EmbeddingWriter):
    """Metadata columns, then one column per dimension (e0, e1, ...)."""

    def _write(self, row: Embedding) -> None:
        record = embedding_record(row, with_vector=False)
        if self.count == 0:
            self.stream.write(_csv_line(list(record) + [f"e{i}" for i in range(len(row.vector))]))
        self.stream.write(_csv_line([_csv_value(v) for v in record.values()] + [f"{x:.8g}" for x in row.vector]))


class _MatrixEmbeddings(EmbeddingWriter):
    """Binary formats: rows are collected and the file is built at the end."""

    binary = True

    def __init__(self, destination: Destination) -> None:
        super().__init__(destination)
        self._vectors: list[np.ndarray] = []
        self._meta: list[dict] = []

    def _write(self, row: Embedding) -> None:
        self._vectors.append(np.asarray(row.vector, dtype=np.float32))
        self._meta.append(embedding_record(row, with_vector=False))

    def _matrix(self) -> np.ndarray:
        return np.stack(self._vectors) if self._vectors else np.zeros((0, 0), dtype=np.float32)


class NpyEmbeddings(_MatrixEmbeddings):
    """An (n, dim) float32 matrix, and FILE.npy.rows.csv beside it mapping rows to inputs."""

    def __init__(self, destination: Destination) -> None:
        super().__init__(destination)
        file = destination.file
        assert file is not None
        self.rows = OutputFile(npy_rows_path(file.requested), file.overwrite, binary=False)

    def _finish(self) -> None:
        np.save(self.stream, self._matrix())
        self._write_rows()

    def _write_rows(self) -> None:
        rows = Destination(file=self.rows)
        with rows.guard():
            writer = csv.DictWriter(rows.stream, fieldnames=["row", "path", "text", "kind", "duration", "model"])
            writer.writeheader()
            for index, meta in enumerate(self._meta):
                writer.writerow({"row": index, **meta})
        rows.commit()


class ParquetEmbeddings(_MatrixEmbeddings):
    """Row groups of ``PARQUET_ROW_GROUP`` rows are flushed as they fill (memory stays flat)."""

    def __init__(self, destination: Destination) -> None:
        super().__init__(destination)
        self._parquet = None

    def _write(self, row: Embedding) -> None:
        super()._write(row)
        if len(self._vectors) >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow.parquet as pq

        from clapcli.io.arrow import embedding_table

        if not self._vectors:
            return
        table = embedding_table(self._meta, self._vectors)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.stream, table.schema)
        self._parquet.write_table(table)
        self._vectors, self._meta = [], []

    def _finish(self) -> None:
        import pyarrow.parquet as pq

        from clapcli.io.arrow import embedding_table

        self._flush()
        if self._parquet is None:
            pq.write_table(embedding_table([], []), self.stream)
        else:
            self._parquet.close()


class SafetensorsEmbeddings(_MatrixEmbeddings):
    """One ``embeddings`` tensor; the rows' metadata as JSON in the file's metadata."""

    def _finish(self) -> None:
        from safetensors.numpy import save

        metadata = {"rows": json.dumps(self._meta, ensure_ascii=False)}
        self.stream.write(save({"embeddings": self._matrix()}, metadata=metadata))


EMBEDDING_WRITERS: dict[str, type[EmbeddingWriter]] = {
    "jsonl": JsonlEmbeddings, "json": JsonEmbeddings, "csv": CsvEmbeddings,
    "npy": NpyEmbeddings, "parquet": ParquetEmbeddings, "safetensors": SafetensorsEmbeddings,
}


def embedding_writer(fmt: str, output: Path | None, overwrite: bool) -> EmbeddingWriter:
    """The writer for ``fmt``, to ``output`` or stdout (text formats only)."""
    cls = EMBEDDING_WRITERS[fmt]
    if cls.binary and output is None:
        raise UsageError(f"--format {fmt} writes a binary file; give --output FILE.{fmt}")
    return cls(Destination.open(output, overwrite, cls.binary))


def npy_rows_path(output: Path) -> Path:
    """The CSV beside an .npy that maps row numbers back to inputs."""
    return output.with_name(output.name + ".rows.csv")


__all__ = [
    "EMBEDDING_FORMATS", "EMBEDDING_WRITERS", "RECORD_FORMATS", "RECORD_WRITERS", "Destination", "EmbeddingWriter",
    "RecordWriter", "check_output_path", "default_record_format", "embedding_record", "embedding_writer",
    "format_from_path", "npy_rows_path", "record_writer",
]
