"""Nearest-neighbour search over embeddings: exact (chunked matrix product) and approximate (faiss).

Vectors and queries are L2-normalized, so the inner product is the cosine similarity.
Exact search streams the matrix once per query batch: a (chunk x dim) @ (dim x q) product per
chunk, then ``argpartition`` keeps the k best of each chunk, so memory stays bounded whatever the
collection size. The approximate index (faiss IVF-Flat) lives beside the database as
``<db>.<collection>.faiss`` with a JSON note of the collection version it was built from, and
is rebuilt when the collection changed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.errors import ClapcliError, UsageError, missing_extra
from clapcli.store.derived import build_lock, derived_path, temp_beside

# Scores computed at once per chunk of the matrix (32 MB of float32), whatever the number of queries.
SCORES_IN_FLIGHT = 8 * 1024 * 1024
BLOCK = 64  # columns per block in the first step of the top-k selection (``_select``)
# Below this size a flat (exact) faiss index is as fast as IVF and needs no training.
IVF_MIN_ROWS = 20_000
IVF_TRAIN_PER_LIST = 50
# Share of the inverted lists probed per query: at 1M clustered vectors (4000 lists) probing 256
# gave recall@10 0.951, 125 gave 0.934 (benchmarks/bench_store.py).
DEFAULT_PROBE_SHARE = 1 / 15


@dataclass(frozen=True)
class Hit:
    """One search result, best first (rank 1)."""

    rank: int
    score: float  # cosine similarity
    target: str  # what was found: a file path, or a caption's text
    id: int | None = None  # row id in the store, when searching one
    start: float | None = None  # segment collections: the window's start in the file (seconds)
    end: float | None = None  # and its end


Scores = Callable[[np.ndarray, np.ndarray], np.ndarray]


def numpy_scores(queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(q, rows) inner products; ``exact_top_k``'s default way to multiply."""
    return queries @ rows.T


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int,
                scores_of: Scores | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, row indices), each (q, min(k, n)), best first, by inner product.

    The matrix is streamed in chunks (one product per chunk for the whole batch of queries) and each
    chunk's k best are kept, so memory stays bounded. ``scores_of`` is how to multiply (numpy by
    default; ``clap serve`` passes torch's, which runs on the model thread's OpenMP team)."""
    scores_of = scores_of or numpy_scores
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    n, q = vectors.shape[0], queries.shape[0]
    k = min(k, n)
    if k <= 0 or q == 0:
        return np.zeros((q, 0), np.float32), np.zeros((q, 0), np.int64)
    chunk = max(BLOCK * k * 4, SCORES_IN_FLIGHT // q)
    found_scores, found_rows = [], []
    for start in range(0, n, chunk):
        best, cols = _select(scores_of(queries, vectors[start : start + chunk]), k)
        found_scores.append(best)
        found_rows.append(cols + start)
    scores, rows = np.concatenate(found_scores, axis=1), np.concatenate(found_rows, axis=1)
    if scores.shape[1] > k:
        scores, keep = _top_k_rows(scores, k)
        rows = np.take_along_axis(rows, keep, axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)


def _select(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest of each row (unordered) and their columns, in two steps.

    Partitioning every full row costs as much as the product for a batch of queries. Instead each
    row is cut into blocks of ``BLOCK`` columns and only the k blocks with the highest maxima are
    searched: the k best scores lie in at most k blocks, each with a maximum at least the k-th best
    score, so those blocks are among the k with the highest maxima (ties included: the k best values
    are always found; which of two equal scores is returned is unspecified, as with ``argpartition``)."""
    q, n = scores.shape
    blocks = n // BLOCK
    if blocks <= k:
        return _top_k_rows(scores, min(k, n))
    maxima = scores[:, : blocks * BLOCK].reshape(q, blocks, BLOCK).max(axis=2)
    best_blocks = _top_k_rows(maxima, k)[1]  # (q, k)
    cols = (best_blocks[:, :, None] * BLOCK + np.arange(BLOCK)).reshape(q, k * BLOCK)
    if n > blocks * BLOCK:  # the columns after the last whole block are always candidates
        tail = np.arange(blocks * BLOCK, n)
        cols = np.concatenate([cols, np.broadcast_to(tail, (q, len(tail)))], axis=1)
    best, keep = _top_k_rows(np.take_along_axis(scores, cols, axis=1), k)
    return best, np.take_along_axis(cols, keep, axis=1)


def _top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest of each row (unordered) and their column indices."""
    if scores.shape[1] <= k:
        return scores, np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    cols = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.take_along_axis(scores, cols, axis=1), cols


def hits_from(scores: np.ndarray, rows: np.ndarray, labels: list[str] | None = None,
              ids: np.ndarray | None = None, paths: dict[int, str] | None = None) -> list[Hit]:
    """One query's results as ``Hit``s; labels by row, or store ids mapped through ``paths``."""
    hits = []
    for rank, (score, row) in enumerate(zip(scores.tolist(), rows.tolist(), strict=True), start=1):
        item_id = int(ids[row]) if ids is not None else None
        label = labels[row] if labels is not None else (paths or {}).get(item_id, "")  # type: ignore[arg-type]
        hits.append(Hit(rank, float(score), label, item_id))
    return hits


# ---------------------------------------------------------------- approximate (faiss)


def import_faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise missing_extra("faiss-cpu", "faiss") from None
    return faiss


def index_path(db_path: Path, collection: str) -> Path:
    return derived_path(db_path, collection, "faiss")


def build_index(vectors: np.ndarray, ids: np.ndarray, nlist: int | None = None, seed: int = 0) -> Any:
    """Inner-product index keyed by store ids: flat when small, IVF-Flat (4*sqrt(n) lists) when large."""
    faiss = import_faiss()
    n, dim = vectors.shape
    if n < IVF_MIN_ROWS and nlist is None:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    else:
        # 4*sqrt(n) lists: at 1M clustered vectors, recall@10 0.94 in ~10 ms vs 0.65 with sqrt(n)
        # (benchmarks/bench_store.py); faiss wants >= 39 training points per list.
        nlist = nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # Deterministic training sample: the same collection gives the same index.
        sample = min(n, IVF_TRAIN_PER_LIST * nlist)
        rows = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
        index.cp.seed = seed
        index.train(np.ascontiguousarray(vectors[rows]))
        index.nprobe = default_nprobe(nlist)
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def default_nprobe(nlist: int) -> int:
    return max(1, min(nlist, math.ceil(nlist * DEFAULT_PROBE_SHARE)))


def search_index(index: Any, queries: np.ndarray, k: int, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) each (q, k'); faiss pads missing results with id -1, which are dropped."""
    if nprobe is not None and hasattr(index, "nprobe"):
        index.nprobe = min(nprobe, index.nlist)
    k = min(k, index.ntotal)
    if k <= 0:
        q = np.atleast_2d(queries).shape[0]
        return np.zeros((q, 0), np.float32), np.zeros((q, 0), np.int64)
    batch = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    if hasattr(index, "parallel_mode"):
        # faiss threads over queries by default, so one query used one core; with few queries,
        # thread over the probed lists instead (1.6x faster per query on 2 cores).
        index.parallel_mode = 1 if len(batch) < (os.cpu_count() or 1) else 0
    scores, ids = index.search(batch, k)
    return scores, ids


def load_or_build_index(collection: Any, rebuild: bool = False) -> Any:
    """The collection's persisted index, rebuilt (and saved atomically) when missing or stale."""
    faiss = import_faiss()
    path = index_path(collection.store.path, collection.name)
    note_path = path.with_name(path.name + ".json")
    with build_lock(path):  # one builder at a time, so an index never sits beside another's note
        if not rebuild and path.exists() and _read_note(note_path) == collection.stamp():
            try:
                return faiss.read_index(str(path))
            except RuntimeError:
                pass  # unreadable (e.g. damaged): rebuild below
        stored = collection.load_matrix()
        if stored.vectors.shape[0] == 0:
            raise UsageError(f"collection '{collection.name}' in {collection.store.path} is empty; nothing to index")
        index = build_index(stored.vectors, stored.ids)
        _save_index(faiss, index, path)
        _write_note(note_path, {**collection.stamp(), "version": stored.version})
    return index


def _read_note(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _save_index(faiss: Any, index: Any, path: Path) -> None:
    temp = temp_beside(path)
    try:
        faiss.write_index(index, str(temp))
        os.replace(temp, path)
    except (OSError, RuntimeError) as exc:
        temp.unlink(missing_ok=True)
        raise ClapcliError(f"cannot save the approximate index {path}: {exc}") from None


def _write_note(path: Path, note: dict) -> None:
    temp = temp_beside(path)
    temp.write_text(json.dumps(note), encoding="utf-8")
    os.replace(temp, path)
