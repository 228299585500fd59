"""``clap map``'s projection at library scale: 100,000 synthetic clustered 512-d vectors.

Times ``core.mapping.project`` for each method asked (default pca and umap; t-SNE is quadratic-ish and
left out unless asked) on the same matrix, in one run, and prints each against the issue's target of a
minute for 100,000 items. The first UMAP call includes numba's compilation (~20 s here), as a user's
first ``clap map`` does.

Usage: python benchmarks/bench_map.py [--rows 100000] [--dim 512] [--methods pca,umap] [--tiny]
Memory: the matrix (~200 MB) plus UMAP's neighbour graph (~1-2 GB at 100,000 rows).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clapcli.core.mapping import project  # noqa: E402
from clapcli.core.text import l2_normalize  # noqa: E402


def clustered(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = l2_normalize(rng.standard_normal((max(1, rows // 50), dim), dtype=np.float32))
    return l2_normalize(centres[rng.integers(0, len(centres), rows)]
                        + rng.standard_normal((rows, dim), dtype=np.float32) / np.sqrt(dim))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--methods", default="pca,umap")
    p.add_argument("--tiny", action="store_true", help="300 rows of 32-d, pca only (a smoke test)")
    p.add_argument("--repeats", type=int, default=1, help="(accepted for the benchmark tests; one round)")
    p.add_argument("--seconds", type=float, default=0, help="(accepted for the benchmark tests; unused)")
    p.add_argument("--work", type=Path, default=None, help="(accepted for the benchmark tests; unused)")
    args = p.parse_args()
    rows, dim = (300, 32) if args.tiny else (args.rows, args.dim)
    methods = ["pca"] if args.tiny else args.methods.split(",")
    vectors = clustered(rows, dim)
    print(f"== clap map projection of {rows} x {dim} synthetic vectors ==")
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}")
    for method in methods:
        start = time.perf_counter()
        coordinates = project(vectors, method, seed=0)
        seconds = time.perf_counter() - start
        assert coordinates.shape == (rows, 2) and np.isfinite(coordinates).all()
        print(f"time  {method:<6} {seconds:9.2f} s")
        per_minute = seconds / 60 * (100_000 / rows)
        ok = per_minute <= 1.0
        print(f"RATIO {'map_' + method + '_minutes_per_100k':<34} {per_minute:8.6g}  target {'<= 1':<10} "
              f"{'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
