"""Writers for records (table/CSV/JSON/JSONL) and embeddings (NPY/Parquet/JSONL/CSV/JSON/safetensors).

Files are written to a temporary name beside the target and renamed when complete, so a reader
never sees half a file; whatever was computed before an interruption is still written.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from clapcli.core.results import Embedding
from clapcli.errors import OutputError, UsageError

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
            raise UsageError(
                f"--output {path}: unknown extension '.{fmt}'; use one of {', '.join(allowed)} or --format"
            )
    else:
        fmt = default
    if fmt not in allowed:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(allowed)}")
    return fmt


def check_output_path(path: Path, overwrite: bool) -> None:
    """Refuse to clobber an existing file and fail early on an unwritable location."""
    if path.is_dir():
        raise OutputError(f"--output {path} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise OutputError(f"--output {path} already exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"--output {path}: directory '{parent}' does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"--output {path}: directory '{parent}' is not writable")


class AtomicFile:
    """A temporary file beside ``path``; ``commit`` renames it into place."""

    def __init__(self, path: Path, binary: bool) -> None:
        self.path = path
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
        os.close(fd)
        self.temp = Path(temp)
        self.handle: IO[Any] = open(temp, "wb") if binary else open(temp, "w", encoding="utf-8", newline="")

    def commit(self) -> None:
        self.handle.close()
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        self.handle.close()
        self.temp.unlink(missing_ok=True)


# ---------------------------------------------------------------- records


class RecordWriter:
    """Streams dict records to a text stream in one format."""

    def __init__(self, fmt: str, stream: IO[str], columns: list[str], title: str | None = None) -> None:
        self.fmt = fmt
        self.stream = stream
        self.columns = columns
        self.title = title
        self.count = 0
        self._rows: list[dict] = []
        self._csv = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore") if fmt == "csv" else None

    def write(self, record: dict) -> None:
        if self.fmt == "csv":
            if self.count == 0:
                self._csv.writeheader()  # type: ignore[union-attr]
            self._csv.writerow({k: _csv_value(v) for k, v in record.items()})  # type: ignore[union-attr]
        elif self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            self._rows.append(record)
        self.count += 1
        if self.fmt in ("csv", "jsonl"):
            self.stream.flush()  # a pipe reader sees each row as soon as it is computed

    def close(self) -> None:
        if self.fmt == "json":
            json.dump(self._rows, self.stream, ensure_ascii=False, indent=2)
            self.stream.write("\n")
        elif self.fmt == "table":
            _print_table(self._rows, self.columns, self.title, self.stream)
        elif self.fmt == "csv" and self.count == 0:
            self._csv.writeheader()  # type: ignore[union-attr]
        self.stream.flush()


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _print_table(rows: list[dict], columns: list[str], title: str | None, stream: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold", justify="right" if column in ("rank", "score") else "left")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    Console(file=stream, soft_wrap=False).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


class RecordOutput:
    """A record writer bound to stdout or an atomically written file."""

    def __init__(self, fmt: str, output: Path | None, overwrite: bool, columns: list[str], title: str | None = None):
        self.file = None
        if output is not None:
            check_output_path(output, overwrite)
            self.file = AtomicFile(output, binary=False)
            stream = self.file.handle
        else:
            stream = sys.stdout
        self.writer = RecordWriter(fmt, stream, columns, title)

    def write(self, record: dict) -> None:
        self.writer.write(record)

    def close(self) -> None:
        self.writer.close()
        if self.file is not None:
            self.file.commit()


def default_record_format(explicit: str | None, output: Path | None) -> str:
    """Table for a human on a terminal, CSV for a pipe, the extension for a file."""
    if explicit or output is not None:
        return format_from_path(output, explicit, RECORD_FORMATS, "csv")
    return "table" if sys.stdout.isatty() else "csv"


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


class EmbeddingWriter:
    """Writes ``Embedding`` rows. Text formats stream; binary ones build their file on close."""

    columns = ["source", "kind", "duration", "model"]

    def __init__(self, fmt: str, output: Path | None, overwrite: bool) -> None:
        if fmt in BINARY_FORMATS and output is None:
            raise UsageError(f"--format {fmt} writes a binary file; give --output FILE.{fmt}")
        self.fmt = fmt
        self.output = output
        self.file = None
        if output is not None:
            check_output_path(output, overwrite)
            if fmt == "npy":
                check_output_path(_npy_rows_path(output), overwrite)
            self.file = AtomicFile(output, binary=fmt in BINARY_FORMATS)
        self.stream = self.file.handle if self.file and fmt not in BINARY_FORMATS else sys.stdout
        self.count = 0
        self._vectors: list[np.ndarray] = []
        self._meta: list[dict] = []
        self._parquet = None
        self._csv = None
        self._json_open = False

    def write(self, row: Embedding) -> None:
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(embedding_record(row), ensure_ascii=False) + "\n")
        elif self.fmt == "json":
            separator = "[\n" if self.count == 0 else ",\n"
            self.stream.write(separator + json.dumps(embedding_record(row), ensure_ascii=False))
        elif self.fmt == "csv":
            self._write_csv(row)
        else:
            self._vectors.append(np.asarray(row.vector, dtype=np.float32))
            self._meta.append(embedding_record(row, with_vector=False))
            if self.fmt == "parquet" and len(self._vectors) >= 4096:
                self._flush_parquet()
        self.count += 1

    def _write_csv(self, row: Embedding) -> None:
        record = embedding_record(row, with_vector=False)
        if self._csv is None:
            fields = list(record) + [f"e{i}" for i in range(len(row.vector))]
            self._csv = csv.writer(self.stream)
            self._csv.writerow(fields)
        self._csv.writerow([_csv_value(v) if v is not None else "" for v in record.values()]
                           + [f"{x:.8g}" for x in row.vector])

    def _flush_parquet(self) -> None:
        import pyarrow.parquet as pq

        if not self._vectors:
            return
        table = _arrow_table(self._meta, self._vectors)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.file.handle, table.schema)  # type: ignore[union-attr]
        self._parquet.write_table(table)
        self._vectors, self._meta = [], []

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write("[]\n" if self.count == 0 else "\n]\n")
        elif self.fmt == "parquet":
            self._flush_parquet()
            if self._parquet is None:
                import pyarrow.parquet as pq

                pq.write_table(_arrow_table([], []), self.file.handle)  # type: ignore[union-attr]
            else:
                self._parquet.close()
        elif self.fmt == "npy":
            self._write_npy()
        elif self.fmt == "safetensors":
            self._write_safetensors()
        self.stream.flush()
        if self.file is not None:
            self.file.commit()

    def _matrix(self) -> np.ndarray:
        return np.stack(self._vectors) if self._vectors else np.zeros((0, 0), dtype=np.float32)

    def _write_npy(self) -> None:
        np.save(self.file.handle, self._matrix())  # type: ignore[union-attr]
        rows_path = _npy_rows_path(self.output)  # type: ignore[arg-type]
        rows = AtomicFile(rows_path, binary=False)
        writer = csv.DictWriter(rows.handle, fieldnames=["row", "path", "text", "kind", "duration", "model"])
        writer.writeheader()
        for index, meta in enumerate(self._meta):
            writer.writerow({"row": index, **meta})
        rows.commit()

    def _write_safetensors(self) -> None:
        from safetensors.numpy import save

        metadata = {"rows": json.dumps(self._meta, ensure_ascii=False)}
        self.file.handle.write(save({"embeddings": self._matrix()}, metadata=metadata))  # type: ignore[union-attr]


def _npy_rows_path(output: Path) -> Path:
    """The CSV beside an .npy that maps row numbers back to inputs."""
    return output.with_name(output.name + ".rows.csv")


def _arrow_table(meta: list[dict], vectors: list[np.ndarray]):
    import pyarrow as pa

    dim = len(vectors[0]) if vectors else 0
    flat = np.concatenate(vectors) if vectors else np.zeros(0, dtype=np.float32)
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), dim) if dim else pa.array(
        [], type=pa.list_(pa.float32()))
    return pa.table({
        "path": pa.array([m.get("path") for m in meta], type=pa.string()),
        "text": pa.array([m.get("text") for m in meta], type=pa.string()),
        "kind": pa.array([m["kind"] for m in meta], type=pa.string()),
        "duration": pa.array([m["duration"] for m in meta], type=pa.float64()),
        "model": pa.array([m["model"] for m in meta], type=pa.string()),
        "embedding": embedding,
    })


def write_audio(path: Path, samples: np.ndarray, sample_rate: int, fmt: str | None = None) -> None:
    """Write mono float audio atomically (WAV/FLAC/OGG by extension)."""
    import soundfile as sf

    fmt = (fmt or path.suffix.lstrip(".") or "wav").upper()
    handle = AtomicFile(path, binary=True)
    try:
        sf.write(handle.handle, np.asarray(samples, dtype=np.float32), sample_rate, format=fmt)
    except BaseException:
        handle.discard()
        raise
    handle.commit()


__all__ = [
    "AtomicFile", "EmbeddingWriter", "RecordOutput", "RecordWriter", "check_output_path",
    "default_record_format", "format_from_path", "write_audio",
]
