"""The score product of ``clap serve``'s searches: torch's, on the model thread.

The selection itself is ``core.search.exact_top_k`` (one product per chunk for the whole batch of
queries, then a block-wise top-k); here only how to multiply differs.
"""

from __future__ import annotations

import numpy as np


def torch_scores(queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``queries @ rows.T`` through torch (no copy of the matrix): on the model's thread it runs on
    the model's OpenMP team, where numpy's BLAS would start a second pool of threads beside it."""
    import torch

    return torch.from_numpy(queries).matmul(torch.from_numpy(rows).T).numpy()
