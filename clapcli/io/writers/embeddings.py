"""Embedding writers (``clap embed``): JSONL, JSON, CSV, NPY (+ rows CSV), Parquet, safetensors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from clapcli.errors import InvalidField
from clapcli.io.target import OutputFile
from clapcli.io.writers.base import Destination, Writer, csv_line, csv_value
from clapcli.results import Embedding

PARQUET_ROW_GROUP = 4096


def embedding_record(row: Embedding, with_vector: bool = True) -> dict:
    """The same keys for every row, in every format: ``path`` (files) or ``text`` (texts), the other null."""
    return row.to_dict(with_vector)


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
            self.stream.write(csv_line(list(record) + [f"e{i}" for i in range(len(row.vector))]))
        self.stream.write(csv_line([csv_value(v) for v in record.values()] + [f"{x:.8g}" for x in row.vector]))


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
        try:
            self._write_rows()
        except BaseException:
            # A matrix whose rows map to no input is of no use: its temporary file goes too.
            self.destination.failed = True
            self.destination.discard()
            raise

    def _write_rows(self) -> None:
        rows = Destination(file=self.rows)
        with rows.guard():
            writer = csv.DictWriter(rows.stream, fieldnames=["row", "path", "text", "kind", "duration", "model"],
                                    lineterminator="\n")
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
        raise InvalidField("fmt", "{fmt} {value} writes a binary file; give {output} FILE.{value}", value=fmt)
    return cls(Destination.open(output, overwrite, cls.binary))


def npy_rows_path(output: Path) -> Path:
    """The CSV beside an .npy that maps row numbers back to inputs."""
    return output.with_name(output.name + ".rows.csv")
