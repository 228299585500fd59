"""``clap dedupe``'s grouping at library scale: 100,000 synthetic 512-d vectors with planted near-duplicates.

Compares, in one run and on the same matrix:
  * ``topk``: one exact top-k pass (every vector's k + 1 nearest neighbours, ``core.search.exact_top_k``,
    queries in the same batches dedupe uses) - the floor, since dedupe's candidates come from it;
  * ``dedupe``: ``core.dedupe.find_duplicates`` (that pass, then duration checks and grouping; no
    fingerprints: those cost per candidate file, not per library row);
  * ``dedupe --approximate``: candidates from a faiss IVF index built in memory; its share of the planted
    groups found whole is reported.

Vectors are clustered (cosine ~0.7 to one of rows/50 centres, as audio embeddings group by kind of sound)
and 1% of them get 1-3 copies at cosine 0.985-0.999 with durations within 1% of their source's. It also
checks that every planted group is found whole and nothing else is grouped.

Usage: python benchmarks/bench_dedupe.py [--rows 100000] [--dim 512] [--tiny]
Memory: the matrix (~200 MB at 100,000 x 512) plus one query batch's scores (32 MB).
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

from clapcli.core.dedupe import (  # noqa: E402
    DEFAULT_NEIGHBOURS,
    QUERY_BATCH,
    DedupeItem,
    DedupeOptions,
    find_duplicates,
)
from clapcli.core.keeper import FileQuality  # noqa: E402
from clapcli.core.search import exact_top_k  # noqa: E402
from clapcli.core.text import l2_normalize  # noqa: E402


def library(rows: int, dim: int, seed: int = 0) -> tuple[np.ndarray, list[float], list[set[int]]]:
    """(vectors, durations, planted groups as sets of row numbers)."""
    rng = np.random.default_rng(seed)
    originals = rows - rows // 50  # room for the copies
    centres = l2_normalize(rng.standard_normal((max(1, originals // 50), dim), dtype=np.float32))
    vectors = l2_normalize(centres[rng.integers(0, len(centres), originals)]
                           + rng.standard_normal((originals, dim), dtype=np.float32) / np.sqrt(dim))
    durations = list(rng.uniform(0.5, 30.0, originals))
    groups: list[set[int]] = []
    extra = []
    for source in rng.choice(originals, size=originals // 100, replace=False).tolist():
        group = {source}
        for _ in range(int(rng.integers(1, 4))):
            if originals + len(extra) >= rows:
                break
            cosine = rng.uniform(0.985, 0.999)
            noise = rng.standard_normal(dim).astype(np.float32)
            noise -= (noise @ vectors[source]) * vectors[source]
            noise /= np.linalg.norm(noise)
            extra.append(cosine * vectors[source] + np.sqrt(1 - cosine**2) * noise)
            durations.append(durations[source] * float(rng.uniform(0.99, 1.01)))  # within 2% of each other
            group.add(originals + len(extra) - 1)
        groups.append(group)
    if extra:
        vectors = np.concatenate([vectors, l2_normalize(np.stack(extra))])
    return np.ascontiguousarray(vectors[: len(durations)], dtype=np.float32), durations, groups


def topk_pass(vectors: np.ndarray, k: int) -> None:
    for start in range(0, len(vectors), QUERY_BATCH):
        exact_top_k(vectors, vectors[start : start + QUERY_BATCH], k)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--tiny", action="store_true", help="2,000 rows of 64-d (a smoke test of the script)")
    p.add_argument("--repeats", type=int, default=1, help="(accepted for the benchmark tests; one round)")
    p.add_argument("--seconds", type=float, default=0, help="(accepted for the benchmark tests; unused)")
    p.add_argument("--work", type=Path, default=None, help="(accepted for the benchmark tests; unused)")
    args = p.parse_args()
    rows, dim = (2000, 64) if args.tiny else (args.rows, args.dim)
    vectors, durations, planted = library(rows, dim)
    items = [DedupeItem(f"/lib/{i:06d}.wav", d) for i, d in enumerate(durations)]
    print(f"== dedupe of {len(items)} x {dim} synthetic vectors ({len(planted)} planted groups) ==")
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, {platform.processor() or 'cpu'}, "
          f"load avg {os.getloadavg()[0]:.2f}")

    start = time.perf_counter()
    topk_pass(vectors, DEFAULT_NEIGHBOURS + 1)
    topk = time.perf_counter() - start
    start = time.perf_counter()
    report = find_duplicates(items, vectors, DedupeOptions(),
                             quality=lambda path, duration: FileQuality("WAV", True, 44100, 16, duration))
    dedupe = time.perf_counter() - start
    print(f"time  topk (one exact top-{DEFAULT_NEIGHBOURS + 1} pass)   {topk:8.3f} s")
    print(f"time  dedupe                          {dedupe:8.3f} s  ({report.candidates} candidate pairs)")
    start = time.perf_counter()
    fast = find_duplicates(items, vectors, DedupeOptions(approximate=True),
                           quality=lambda path, duration: FileQuality("WAV", True, 44100, 16, duration))
    approximate = time.perf_counter() - start
    print(f"time  dedupe --approximate            {approximate:8.3f} s  ({fast.candidates} candidate pairs)")
    found = sorted(sorted(int(m.path[5:11]) for m in g.members) for g in report.groups)
    expected = sorted(sorted(g) for g in planted)
    print(f"groups found {len(found)}, planted {len(expected)}, identical: {found == expected}")
    ratio = dedupe / topk
    report_ratio("dedupe_over_topk_pass", ratio, "<= 1.5", ratio <= 1.5)
    same = float(found == expected)
    report_ratio("dedupe_planted_groups_exact", same, "1", same == 1)
    fast_found = sorted(sorted(int(m.path[5:11]) for m in g.members) for g in fast.groups)
    recall = sum(group in fast_found for group in expected) / max(len(expected), 1)
    report_ratio("dedupe_approximate_speedup", dedupe / approximate, ">= 1", dedupe / approximate >= 1)
    report_ratio("dedupe_approximate_group_recall", recall, ">= 0.99", recall >= 0.99)


def report_ratio(name: str, value: float, target: str, ok: bool) -> None:
    """As benchmarks/_common.py prints it (not imported: that module imports the test helpers' paths)."""
    print(f"RATIO {name:<34} {value:8.6g}  target {target:<10} {'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
