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
        from rich.text import Text

        console = Console(file=self.stream, soft_wrap=False)
        cells = [[_cell(row.get(c)) for c in self.columns] for row in self._rows]
        paths = [i for i, column in enumerate(self.columns) if column in PATH_COLUMNS]
        if paths:
            cells = _fit_paths(cells, self.columns, paths, console.width)
        table = Table(title=self.title, show_lines=False, header_style="bold")
        for index, column in enumerate(self.columns):
            justify = "right" if column in ("rank", "score") else "left"
            if index in paths:  # never folded in the middle of a name; shortened at the start ("…/dir/x.wav")
                table.add_column(column, no_wrap=True, overflow="ellipsis", justify=justify)
            else:
                table.add_column(column, overflow="fold", justify=justify)
        for row in cells:
            table.add_row(*(Text(value) for value in row))  # plain text: a name's [brackets] are not markup
        console.print(table)


# Columns holding a path (or a query that may be one): kept on one line, cut at the start if too long.
PATH_COLUMNS = ("path", "query", "file", "source", "db", "output")
_OTHER_COLUMN_CAPS = (40, 24, 12)  # a long label folds within this many cells, leaving the rest to the paths
_WANTED_PATH_CELLS = 32
_MIN_PATH_CELLS = 16


def _fit_paths(cells: list[list[str]], columns: list[str], paths: list[int], width: int) -> list[list[str]]:
    """Values of the path columns shortened from the start ("…" + the end, where the file name is) so the
    table fits ``width`` without wrapping them; the other columns keep their natural width (up to a cap)."""
    from rich.cells import cell_len

    natural = [max([cell_len(column)] + [cell_len(row[i]) for row in cells]) for i, column in enumerate(columns)]
    overhead = 3 * len(columns) + 1  # a border and one space of padding either side per column
    for cap in _OTHER_COLUMN_CAPS:  # long labels fold narrower before paths drop below a file name's width
        others = sum(min(natural[i], cap) for i in range(len(columns)) if i not in paths)
        budget = (width - overhead - others) // len(paths)
        if budget >= _WANTED_PATH_CELLS:
            break
    budget = max(_MIN_PATH_CELLS, budget)
    return [[_tail(value, budget) if i in paths else value for i, value in enumerate(row)] for row in cells]


def _tail(value: str, cells: int) -> str:
    """``value`` if it fits in ``cells``, else "…" and as much of its end as fits."""
    from rich.cells import cell_len

    if cell_len(value) <= cells:
        return value
    kept = value
    while kept and cell_len(kept) > cells - 1:
        kept = kept[max(1, (cell_len(kept) - cells + 1) // 2):] if cell_len(kept) - cells > 4 else kept[1:]
    return "…" + kept


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
