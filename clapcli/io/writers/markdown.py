"""A Markdown (GitHub pipe) table of records, built at the end so it can be pasted into a paper or an issue."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from clapcli.io.writers.base import Destination
from clapcli.io.writers.records import RecordWriter
from clapcli.text import printable


class MarkdownRecords(RecordWriter):
    def __init__(self, destination: Destination, columns: list[str], title: str | None = None) -> None:
        super().__init__(destination, columns, title)
        self._rows: list[dict] = []

    def _write(self, record: dict) -> None:
        self._rows.append(record)

    def _finish(self) -> None:
        lines = []
        if self.title:
            lines += [f"**{_cell(self.title)}**", ""]
        lines.append("| " + " | ".join(_cell(c) for c in self.columns) + " |")
        lines.append("|" + "|".join(_rule(c, self._rows) for c in self.columns) + "|")
        for row in self._rows:
            lines.append("| " + " | ".join(_cell(row.get(c)) for c in self.columns) + " |")
        self.stream.write("\n".join(lines) + "\n")


def _rule(column: str, rows: list[dict]) -> str:
    numeric = rows and all(isinstance(r.get(column), (int, float)) or r.get(column) is None for r in rows)
    return "---:" if numeric else "---"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4f}"
    return printable(str(value)).replace("|", "\\|").replace("\n", " ")


def markdown_writer(output: Path | None, overwrite: bool, columns: list[str], title: str | None = None,
                    stream: IO[str] | None = None) -> MarkdownRecords:
    destination = Destination(stream=stream) if stream is not None else Destination.open(output, overwrite, False)
    return MarkdownRecords(destination, columns, title)
