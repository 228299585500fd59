"""The one Arrow/Parquet layout of embeddings: the ``--format parquet`` file, the Ray engine's
shards (plus an ``error`` column) and the importer all use it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

METADATA_COLUMNS = ("path", "text", "kind", "duration", "model")


def embedding_schema(dim: int, with_error: bool = False) -> Any:
    """path, text, kind, duration, model, embedding (fixed-size float32 list)[, error]."""
    import pyarrow as pa

    fields = [
        ("path", pa.string()), ("text", pa.string()), ("kind", pa.string()), ("duration", pa.float64()),
        ("model", pa.string()), ("embedding", pa.list_(pa.float32(), dim) if dim else pa.list_(pa.float32())),
    ]
    if with_error:
        fields.append(("error", pa.string()))
    return pa.schema(fields)


def embedding_table(meta: Sequence[dict], vectors: Sequence[np.ndarray], errors: Sequence[dict] = (),
                    dim: int | None = None, with_error: bool = False) -> Any:
    """A table of ``meta``/``vectors`` rows (``embedding_record`` dicts without the vector), then
    failure rows for ``errors`` ({"path", "error"} dicts) with a zero vector; ``with_error`` (or any
    error) adds the ``error`` column."""
    import pyarrow as pa

    dim = dim if dim is not None else (len(vectors[0]) if len(vectors) else 0)
    flat = [np.asarray(v, np.float32) for v in vectors] + [np.zeros(dim * len(errors), np.float32)]
    values = pa.array(np.concatenate(flat) if flat else np.zeros(0, np.float32), type=pa.float32())
    embedding = pa.FixedSizeListArray.from_arrays(values, dim) if dim else pa.array([], type=pa.list_(pa.float32()))
    rows = [*meta, *({"path": e["path"]} for e in errors)]
    columns: dict[str, Any] = {name: [row.get(name) for row in rows] for name in METADATA_COLUMNS}
    columns["embedding"] = embedding
    with_error = with_error or bool(errors)
    if with_error:
        columns["error"] = [None] * len(meta) + [e["error"] for e in errors]
    return pa.table(columns, schema=embedding_schema(dim, with_error))
