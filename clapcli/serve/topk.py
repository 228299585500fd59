"""Exact top-k of a batch of queries over a library matrix: one matmul, then a two-step selection.

``core.search.exact_top_k`` partitions every query's full row of scores (100,000 numbers each);
for a batch of 32 queries that selection costs as much as the matmul. Here each row of scores is
cut into blocks of ``BLOCK`` columns and only the ``k`` blocks with the highest maxima are searched:
the k best scores of a row lie in at most k blocks, and each of those blocks has a maximum at least
as high as the k-th best score, so those blocks are among the k with the highest maxima (ties
included: the k best values are always found, which of two equal scores is returned is not
specified, as with ``argpartition``). The result equals ``exact_top_k``'s.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BLOCK = 64  # columns per block of the first selection step
SCORES_IN_FLIGHT = 8 * 1024 * 1024  # score matrix entries computed at once (32 MB of float32)


Scores = Callable[[np.ndarray, np.ndarray], np.ndarray]


def numpy_scores(queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return queries @ rows.T


def torch_scores(queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The same product through torch (no copy of the matrix): on the model's thread it runs on
    the model's OpenMP team, where numpy's BLAS would start a second pool of threads beside it."""
    import torch

    return torch.from_numpy(queries).matmul(torch.from_numpy(rows).T).numpy()


def top_k(vectors: np.ndarray, queries: np.ndarray, k: int,
          scores_of: Scores | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, row indices), each (q, min(k, n)), best first, by inner product (``scores_of``:
    how to multiply, numpy by default)."""
    scores_of = scores_of or numpy_scores
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    n, q = vectors.shape[0], queries.shape[0]
    k = min(k, n)
    if k <= 0 or q == 0:
        return np.zeros((q, 0), np.float32), np.zeros((q, 0), np.int64)
    chunk = max(BLOCK * k * 4, SCORES_IN_FLIGHT // q)
    found_scores, found_rows = [], []
    for start in range(0, n, chunk):
        scores = scores_of(queries, vectors[start : start + chunk])  # (q, rows): one matmul for the batch
        best, cols = _select(scores, k)
        found_scores.append(best)
        found_rows.append(cols + start)
    scores, rows = np.concatenate(found_scores, axis=1), np.concatenate(found_rows, axis=1)
    if scores.shape[1] > k:
        scores, keep = _partition(scores, k)
        rows = np.take_along_axis(rows, keep, axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)


def _select(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest of each row (unordered) and their columns: the best blocks, then within them."""
    q, n = scores.shape
    blocks = n // BLOCK
    if blocks <= k:
        return _partition(scores, min(k, n))
    maxima = scores[:, : blocks * BLOCK].reshape(q, blocks, BLOCK).max(axis=2)
    best_blocks = _partition(maxima, k)[1]  # (q, k)
    cols = (best_blocks[:, :, None] * BLOCK + np.arange(BLOCK)).reshape(q, k * BLOCK)
    if n > blocks * BLOCK:  # the columns after the last whole block are always candidates
        cols = np.concatenate([cols, np.broadcast_to(np.arange(blocks * BLOCK, n), (q, n - blocks * BLOCK))], axis=1)
    candidates = np.take_along_axis(scores, cols, axis=1)
    best, keep = _partition(candidates, k)
    return best, np.take_along_axis(cols, keep, axis=1)


def _partition(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if scores.shape[1] <= k:
        return scores, np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    cols = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.take_along_axis(scores, cols, axis=1), cols
