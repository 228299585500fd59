"""UMAP for ``clap map``: umap-learn, with the map's own settings for large libraries (``map_options``).

umap-learn spends its time in the k-nearest-neighbour graph (pynndescent: 25 s at 100,000 x 512 here), the
spectral initialisation and the SGD layout, and, in every new process, numba's compilation; seeding it
(``random_state``) makes it single-threaded. ``umap_layout`` can also project the vectors on their leading
principal axes first (``reduce_dims``) and compute the neighbour graph exactly (``knn="exact"``, with
``core.search.exact_top_k``, handed to umap-learn as ``precomputed_knn``): both were measured slower at
100,000 items (quadratic exact graph; pynndescent slower on the reduced vectors), so the map does not use
them; ``benchmarks/bench_map.py`` keeps them measurable. Figures: docs/library-tools.md ("Map cost").
"""

from __future__ import annotations

import warnings

import numpy as np

from clapcli.core.search import exact_top_k
from clapcli.core.text import l2_normalize
from clapcli.errors import missing_extra

NEIGHBOURS = 15  # umap-learn's default n_neighbors
# Above LARGE items the map's UMAP runs LARGE_EPOCHS epochs (umap-learn: 200 there, 500 below) from a PCA
# initialisation (umap-learn: spectral): the SGD layout and the spectral init are most of a seeded run at
# 100,000 items, and neither measure of the layout's quality moved (docs/library-tools.md, "Map cost").
LARGE = 10_000
LARGE_EPOCHS = 100
QUERY_BATCH = 1024
KNN_METHODS = ("exact", "nndescent")


def principal_axes(vectors: np.ndarray, dims: int) -> np.ndarray:
    """(n, dims) coordinates on the ``dims`` leading principal axes, each axis's sign fixed (its largest
    loading positive) so that reruns agree."""
    centred = vectors.astype(np.float64) - vectors.mean(axis=0)
    # The leading eigenvectors of the (dim x dim) scatter matrix: one pass over the rows, where an SVD
    # of the tall matrix also builds its (n x dim) left factor (135 s vs a few at 100,000 x 512 here).
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    axes = eigenvectors[:, ::-1][:, :dims].T
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    return centred @ (axes * signs[:, None]).T


def exact_knn(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine distances), each (n, k), every row's k nearest rows by cosine, itself first."""
    unit = l2_normalize(vectors)
    indices = np.zeros((len(unit), k), dtype=np.int64)
    distances = np.zeros((len(unit), k), dtype=np.float32)
    for start in range(0, len(unit), QUERY_BATCH):
        batch = unit[start : start + QUERY_BATCH]
        scores, rows = exact_top_k(unit, batch, k)
        # A row is its own nearest neighbour (umap-learn expects it first), even against an exact twin.
        own = np.arange(start, start + len(batch))
        rows, scores = _self_first(rows, scores, own)
        indices[start : start + len(batch)] = rows
        distances[start : start + len(batch)] = np.maximum(0.0, 1.0 - scores)
    return indices, distances


def _self_first(rows: np.ndarray, scores: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, scores = rows.copy(), scores.copy()
    for r, item in enumerate(own):
        where = np.flatnonzero(rows[r] == item)
        at = int(where[0]) if len(where) else rows.shape[1] - 1  # missing (ties): replace the last
        rows[r, 1 : at + 1], scores[r, 1 : at + 1] = rows[r, :at].copy(), scores[r, :at].copy()
        rows[r, 0], scores[r, 0] = item, 1.0
    return rows, scores


def map_options(n: int) -> dict[str, object]:
    """The map's own settings for ``umap_layout`` at ``n`` items (none below ``LARGE``: umap-learn's defaults)."""
    return {"n_epochs": LARGE_EPOCHS, "init": "pca"} if n > LARGE else {}


def umap_layout(vectors: np.ndarray, seed: int | None = 0, *, reduce_dims: int | None = None, knn: str = "nndescent",
                n_epochs: int | None = None, init: str = "spectral") -> np.ndarray:
    """(n, 2) UMAP coordinates (cosine). ``seed`` None runs umap-learn unseeded, on every core (its
    coordinates then differ from run to run)."""
    try:
        import umap
    except ImportError:
        raise missing_extra("umap-learn", "map") from None
    n = vectors.shape[0]
    k = min(NEIGHBOURS, n - 1)
    data = vectors
    if reduce_dims is not None and reduce_dims < vectors.shape[1]:
        data = principal_axes(vectors, reduce_dims).astype(np.float32)
    precomputed = (None, None, None)
    if knn == "exact":
        precomputed = (*exact_knn(data, k), None)
    reducer = umap.UMAP(n_components=2, n_neighbors=k, metric="cosine", random_state=seed,
                        n_jobs=1 if seed is not None else -1, n_epochs=n_epochs,
                        init=init if n > 16 else "random", precomputed_knn=precomputed)
    with warnings.catch_warnings():
        # "no NNDescent search index: transform unavailable" (we never transform) and "n_jobs overridden".
        warnings.filterwarnings("ignore", message=".*(knn_search_index|n_jobs value).*")
        return np.asarray(reducer.fit_transform(data), dtype=np.float64)
