"""Read back what ``clap embed --output`` wrote (any of its formats) as labels + one float32 matrix.

Rows carry ``path`` (audio/image) or ``text``, ``model`` and ``embedding`` (a list column, or
``e0..eN`` columns in CSV; ``.npy`` keeps its rows in ``<file>.rows.csv``; safetensors keeps them
in its metadata).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clapcli.errors import ClapcliError, InvalidField, UsageError

EMBEDDING_FILE_FORMATS = ("parquet", "npy", "jsonl", "json", "csv", "safetensors")


@dataclass(frozen=True)
class EmbeddingTable:
    labels: list[str]  # path (or text) of each row
    vectors: np.ndarray  # (n, dim) float32
    models: frozenset[str]  # model ids named in the file (empty when it does not say)


def load_embedding_file(path: str | Path) -> EmbeddingTable:
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidField("embeddings", "{embeddings} {path} does not exist; write one with 'clap embed FILES -o "
                           "{name}'", path=path, name=path.name)
    fmt = path.suffix.lower().lstrip(".")
    readers = {"parquet": _parquet, "npy": _npy, "jsonl": _jsonl, "json": _json, "csv": _csv,
               "safetensors": _safetensors}
    if fmt not in readers:
        known = ", ".join(EMBEDDING_FILE_FORMATS)
        raise InvalidField("embeddings", "{embeddings} {path}: unknown format '.{ext}'; use one of {known}", path=path,
                           ext=fmt, known=known)
    try:
        labels, vectors, models = readers[fmt](path)
    except UsageError:
        raise
    except ClapcliError as exc:
        raise ClapcliError(f"--embeddings {path}: cannot read it as {fmt} ({exc})") from None
    except Exception as exc:  # malformed files raise anything from pyarrow/json/numpy
        raise ClapcliError(f"--embeddings {path}: cannot read it as {fmt} ({type(exc).__name__}: {exc})") from None
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(labels) != vectors.shape[0]:
        raise ClapcliError(f"--embeddings {path}: {len(labels)} rows but embeddings of shape {vectors.shape}")
    return EmbeddingTable(labels, vectors, frozenset(m for m in models if m))


def _label(record: dict, index: int) -> str:
    return str(record.get("path") or record.get("text") or record.get("source") or f"row {index}")


def _records(records: Iterable[dict]) -> tuple[list[str], np.ndarray, list[str]]:
    """Rows with an embedding; the ``{"path", "error"}`` rows ``clap embed`` writes for failed inputs are
    skipped (they have nothing to search)."""
    labels, vectors, models = [], [], []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ClapcliError(f"row {index + 1} is not a JSON object")
        if record.get("embedding") is None:
            if "error" in record:
                continue
            raise ClapcliError(f"row {index + 1} ({_label(record, index)}) has no \"embedding\"")
        labels.append(_label(record, index))
        vectors.append(np.asarray(record["embedding"], dtype=np.float32))
        models.append(record.get("model") or "")
    _same_width((len(v) if v.ndim == 1 else -1 for v in vectors), labels)
    return labels, (np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)), models


def _same_width(widths: Iterable[int], labels: list[str]) -> None:
    """Every embedding has the first one's length (a ragged file is refused, never reshaped)."""
    first = None
    for index, width in enumerate(widths):
        if first is None:
            first = width
        if width != first or width <= 0:
            raise ClapcliError(f"embeddings of different lengths: {labels[0]} has {first} values, "
                               f"{labels[index]} has {width}")


def _parquet(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if "error" in table.column_names:  # rows of failed inputs carry no embedding
        table = table.filter(pc.is_valid(table.column("embedding")))
    column = table.column("embedding").combine_chunks()
    n = table.num_rows
    if n == 0:
        return [], np.zeros((0, 0), np.float32), []
    names = table.column_names
    paths = table.column("path").to_pylist() if "path" in names else [None] * n
    texts = table.column("text").to_pylist() if "text" in names else [None] * n
    labels = [p or t or f"row {i}" for i, (p, t) in enumerate(zip(paths, texts, strict=True))]
    if column.null_count:
        raise ClapcliError(f"{labels[column.is_null().to_pylist().index(True)]} has no embedding")
    _same_width(pc.list_value_length(column).to_pylist(), labels)
    flat = column.flatten().to_numpy(zero_copy_only=False)
    vectors = np.asarray(flat, dtype=np.float32).reshape(n, -1)
    models = table.column("model").to_pylist() if "model" in names else []
    return labels, vectors, models


def _npy(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    vectors = np.load(path, allow_pickle=False)
    rows_path = path.with_name(path.name + ".rows.csv")
    if not rows_path.exists():
        return [f"row {i}" for i in range(len(vectors))], vectors, []
    with open(rows_path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [_label(r, i) for i, r in enumerate(rows)], vectors, [r.get("model") or "" for r in rows]


def _jsonl(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    with open(path, encoding="utf-8") as handle:
        return _records(json.loads(line) for line in handle if line.strip())


def _json(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    with open(path, encoding="utf-8") as handle:
        return _records(json.load(handle))


def _csv(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = [f for f in reader.fieldnames or [] if f.startswith("e") and f[1:].isdigit()]
        if not fields:
            raise ClapcliError("no e0..eN embedding columns")
        fields.sort(key=lambda f: int(f[1:]))
        rows = list(reader)
    vectors = np.array([[float(r[f]) for f in fields] for r in rows], dtype=np.float32).reshape(len(rows), len(fields))
    return [_label(r, i) for i, r in enumerate(rows)], vectors, [r.get("model") or "" for r in rows]


def _safetensors(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        vectors = handle.get_tensor("embeddings")
        rows = json.loads((handle.metadata() or {}).get("rows", "[]"))
    if len(rows) != len(vectors):
        rows = [{} for _ in range(len(vectors))]
    return [_label(r, i) for i, r in enumerate(rows)], vectors, [r.get("model") or "" for r in rows]
