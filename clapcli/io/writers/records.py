"""Record writers (``clap classify``, ``retrieve``, ``models``): table, CSV, JSON, JSONL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from clapcli.io.writers.base import Destination, Writer, csv_line, csv_value
from clapcli.text import printable


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
        self.stream.write(csv_line([csv_value(record.get(c)) for c in self.columns]))
        self.stream.flush()  # a pipe reader sees each row as soon as it is computed

    def _header(self) -> None:
        self.stream.write(csv_line(self.columns))

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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return printable(str(value))  # a file name must not drive the terminal


def _indent(text: str) -> str:
    return "  " + text.replace("\n", "\n  ")


# ---------------------------------------------------------------- embeddings
