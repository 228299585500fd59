"""Directories of Parquet embedding shards (``clap embed --engine ray`` output), local or on object stores,
and ``clap embed --import``: loading them into a library collection, one transaction per batch.

A shard holds the local ``embed --format parquet`` columns (path, text, kind, duration, model, embedding:
``clapcli.io.arrow.embedding_schema``, the one layout the writer, the Ray shards and this importer share);
failed inputs sit in ``DIR/_errors/`` (path, error), which parquet readers of DIR skip for its underscore.
Needs pyarrow only, not Ray.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from clapcli.errors import ClapcliError, UsageError
from clapcli.results import FailedInput
from clapcli.text import first_line

ERRORS_DIR = "_errors"
SHARD_PREFIX = "part-"
IMPORT_ROWS = 1000  # rows per transaction: a killed import loses at most one batch; a rerun upserts, never duplicates
# Columns of the embeddings schema the importer reads (the others are not stored); ``error`` marks failure rows.
IMPORT_COLUMNS = ("path", "duration", "model", "embedding", "error")
REQUIRED_COLUMNS = ("path", "model", "embedding")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_uri(location: str) -> bool:
    return bool(_URI.match(location))


def filesystem_for(location: str, option: str = "--output") -> tuple[Any, str]:
    """The pyarrow filesystem and root path for a local path or a URI (s3://, gs://, hdfs://...)."""
    import pyarrow.fs as pafs

    try:
        filesystem, root = pafs.FileSystem.from_uri(location if is_uri(location) else os.path.abspath(location))
    except (ValueError, OSError) as exc:  # ArrowInvalid is a ValueError
        raise UsageError(f"{option} {location}: {first_line(exc, 200)}") from None
    return filesystem, root.rstrip("/") or "/"


def shard_files(location: str, option: str = "--output") -> list[str]:
    """Visible ``*.parquet`` files directly in the directory ``location`` (``[location]`` for a file)."""
    import pyarrow.fs as pafs

    filesystem, root = filesystem_for(location, option)
    info = filesystem.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        return []
    if info.type == pafs.FileType.File:
        return [root]
    found = filesystem.get_file_info(pafs.FileSelector(root, recursive=False))
    return sorted(f.path for f in found
                  if f.type == pafs.FileType.File and f.base_name.endswith(".parquet")
                  and not f.base_name.startswith((".", "_")))


def read_failures(location: str, limit: int) -> list[FailedInput]:
    """The first ``limit`` rows of ``DIR/_errors/``."""
    import pyarrow.parquet as pq

    filesystem, root = filesystem_for(location)
    try:
        table = pq.read_table(f"{root}/{ERRORS_DIR}", filesystem=filesystem)
    except (OSError, ValueError):
        return []
    return [FailedInput(row["path"], row["error"]) for row in table.slice(0, limit).to_pylist()]


# ---------------------------------------------------------------- --import


@dataclass
class ImportSummary:
    imported: int = 0
    shards: int = 0
    skipped_texts: int = 0
    model: str | None = None
    total: int = 0  # rows in the collection afterwards


def import_shards(
    location: str, store: Any, collection_name: str, batch_rows: int = IMPORT_ROWS,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Upsert every file row of the shards in ``location`` into ``collection_name`` of ``store`` (an
    ``EmbeddingStore``), ``batch_rows`` per transaction. The collection is created for the shards' model,
    and refused if it was built with another one. Text rows (``embed --text``) are skipped."""
    from clapcli.store import ItemRow

    files = shard_files(location, "--import")
    if not files:
        raise UsageError(f"--import {location}: no Parquet shards there; write them with 'clap embed FILES "
                         f"--engine ray --output {location}'")
    summary = ImportSummary(shards=len(files))
    collection = None
    for batch in _batches(location, files, batch_rows):
        paths, vectors, durations, model, texts = _columns(batch, location)
        summary.skipped_texts += texts
        if not paths:
            continue
        if collection is None:
            collection = store.collection(collection_name, model, vectors.shape[1])
            summary.model = model
        collection.check_model(model, vectors.shape[1])
        # No content hash: the job never hashed the files, so a later 'embed --db' re-embeds them once
        # rather than trusting a hash computed now over bytes that may differ from what was embedded.
        collection.upsert([ItemRow(p, "", v, d) for p, v, d in zip(paths, vectors, durations)])
        summary.imported += len(paths)
        if on_progress is not None:
            on_progress(len(paths))
    summary.total = collection.count() if collection is not None else 0
    return summary


def _batches(location: str, files: list[str], batch_rows: int) -> Iterator[Any]:
    import pyarrow.parquet as pq

    filesystem, _ = filesystem_for(location, "--import")
    for path in files:
        try:
            handle = pq.ParquetFile(filesystem.open_input_file(path))
            columns = [c for c in IMPORT_COLUMNS if c in handle.schema_arrow.names]  # skip text/kind bytes
            for batch in handle.iter_batches(batch_size=batch_rows, columns=columns):
                yield _conform(batch, path)
        except (OSError, ValueError) as exc:
            raise ClapcliError(f"--import {path}: not a readable Parquet shard ({first_line(exc, 200)})") from None


def _conform(batch: Any, path: str) -> Any:
    """``batch`` with the embeddings schema's types (``embedding`` as a float32 list of any length, so a
    float64 list from another writer still imports); a column of another kind fails naming the shard."""
    import pyarrow as pa

    from clapcli.io.arrow import embedding_schema

    schema = embedding_schema(0, with_error=True)
    missing = [c for c in REQUIRED_COLUMNS if c not in batch.schema.names]
    if missing:
        raise ClapcliError(f"--import {path}: shards lack column(s) {', '.join(missing)}; "
                           "were they written by 'clap embed'?")
    columns = []
    for name in batch.schema.names:
        column, expected = batch.column(name), schema.field(name).type
        try:
            columns.append(column.cast(expected))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise ClapcliError(f"--import {path}: column '{name}' holds {column.type}, expected {expected}; "
                               "were the shards written by 'clap embed'?") from None
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _columns(batch: Any, location: str) -> tuple[list[str], np.ndarray, list[float | None], str, int]:
    """(paths, vectors, durations, model id, number of text rows skipped) of one record batch. Rows
    without a path (``embed --text``) are counted and skipped; failure rows (an ``error``) are skipped."""
    import pyarrow.compute as pc

    names = batch.schema.names
    has_path = pc.is_valid(batch.column("path"))
    texts = batch.num_rows - int(pc.sum(has_path).as_py() or 0)
    keep = pc.and_(has_path, pc.is_null(batch.column("error"))) if "error" in names else has_path
    batch = batch.filter(keep)
    models = set(batch.column("model").to_pylist())
    if len(models) > 1:
        raise ClapcliError(f"--import {location}: rows from several models ({', '.join(sorted(map(str, models)))}); "
                           "import each model into its own --collection")
    paths = [p if is_uri(p) else os.path.abspath(p) for p in batch.column("path").to_pylist()]
    durations = batch.column("duration").to_pylist() if "duration" in names else [None] * len(paths)
    vectors = _matrix(batch.column("embedding"), len(paths), location)
    return paths, vectors, durations, (models.pop() if models else ""), texts


def _matrix(column: Any, rows: int, location: str) -> np.ndarray:
    import pyarrow.compute as pc

    if rows == 0:
        return np.zeros((0, 0), np.float32)
    lengths = set(pc.list_value_length(column).to_pylist())
    if len(lengths) != 1 or None in lengths:  # a reshape would mix rows silently
        raise ClapcliError(f"--import {location}: embeddings of different lengths (or missing) in one shard; "
                           "were they written by 'clap embed'?")
    flat = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return flat.reshape(rows, -1)
