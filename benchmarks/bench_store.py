"""Embedding store at scale: 1,000,000 random 512-d unit vectors in one collection.

Measures, in one run:
  * insert throughput (``Collection.upsert`` in batches, one WAL transaction each),
  * time to load the collection into one float32 matrix,
  * exact top-10 query time vs the time to read the matrix once from memory (bandwidth bound),
  * the approximate index (faiss IVF-Flat, 4*sqrt(n) lists): build/save/load time, and per-query
    time and recall@10 against exact search for a sweep of ``nprobe``.

Two query workloads for the approximate index:
  * ``uniform``: the stored vectors and the queries are i.i.d. uniform on the sphere. This is the
    worst case for any approximate method (no structure: the 10 nearest neighbours of a random
    query are barely nearer than the rest), reported for honesty.
  * ``clustered``: vectors drawn around rows/50 random centres (50 each; cosine ~0.7 to their
    centre, ~0.5 between siblings), as real audio embeddings group by kind of sound; queries drawn
    the same way. Only the in-memory search part is run for it.

Usage: python benchmarks/bench_store.py [--rows 1000000] [--dim 512] [--workdir DIR] [--json OUT]
Memory: about 2 GB for the matrix plus 2 GB for the IVF-Flat index (freed between workloads).
Disk: about 2.2 GB for the db, 2 GB for the matrix cache and 2 GB for the index (deleted unless --keep).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clapcli.core.search import (  # noqa: E402
    build_index,
    exact_top_k,
    import_faiss,
    load_or_build_index,
    search_index,
)
from clapcli.core.text import l2_normalize as normalize  # noqa: E402
from clapcli.store import ItemRow, open_store  # noqa: E402

K = 10
PER_CENTRE = 50  # clustered workload: vectors per centre
NOISE = 1.0  # noise norm: cosine ~0.7 between a vector and its centre, ~0.5 between two siblings
NPROBES = (8, 16, 32, 64, 125, 256, 512)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def uniform_chunk(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    return normalize(rng.standard_normal((rows, dim), dtype=np.float32))


def clustered_chunk(rng: np.random.Generator, centres: np.ndarray, rows: int) -> np.ndarray:
    dim = centres.shape[1]
    picks = rng.integers(0, len(centres), size=rows)
    noise = rng.standard_normal((rows, dim), dtype=np.float32) * (NOISE / np.sqrt(dim))
    return normalize(centres[picks] + noise)


def insert(store_path: Path, rows: int, dim: int, batch: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    with open_store(store_path) as store:
        collection = store.collection("bench", "bench/random", dim)
        start = time.perf_counter()
        for offset in range(0, rows, batch):
            vectors = uniform_chunk(rng, min(batch, rows - offset), dim)
            collection.upsert([
                ItemRow(f"/bench/{offset + i:07d}.wav", f"{offset + i:032x}", vectors[i], 10.0)
                for i in range(len(vectors))
            ])
        seconds = time.perf_counter() - start
        integrity = store.integrity_check() if rows <= 200_000 else "skipped (slow at this size)"
    size = store_path.stat().st_size
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "db_bytes": size, "integrity_check": integrity}


def memory_read_seconds(matrix: np.ndarray, repeats: int = 5) -> float:
    """Fastest of single- and two-thread max-reductions over the matrix: one full read from RAM."""
    flat = matrix.reshape(-1)

    def two_threads() -> None:
        half = flat.size // 2
        threads = [threading.Thread(target=np.max, args=(part,)) for part in (flat[:half], flat[half:])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    best = float("inf")
    for action in (lambda: np.max(flat), two_threads):
        for _ in range(repeats):
            start = time.perf_counter()
            action()
            best = min(best, time.perf_counter() - start)
    return best


def time_exact(matrix: np.ndarray, queries: np.ndarray) -> tuple[float, np.ndarray]:
    """Median seconds for one single-vector top-10 query, and the exact ids for all queries."""
    times = []
    for query in queries[:20]:
        start = time.perf_counter()
        exact_top_k(matrix, query[None, :], K)
        times.append(time.perf_counter() - start)
    _, truth = exact_top_k(matrix, queries, K)
    return statistics.median(times), truth


def sweep(index, queries: np.ndarray, truth_ids: np.ndarray) -> list[dict]:
    results = []
    for nprobe in NPROBES:
        if nprobe > index.nlist:
            break
        index.nprobe = nprobe
        times, recalls = [], []
        for query, truth in zip(queries, truth_ids, strict=True):
            start = time.perf_counter()
            _, found = search_index(index, query[None, :], K)  # clapcli's own query path
            times.append(time.perf_counter() - start)
            recalls.append(len(set(found[0].tolist()) & set(truth.tolist())) / K)
        row = {"nprobe": nprobe, "query_ms": 1000 * statistics.median(times), "recall_at_10": float(np.mean(recalls))}
        log(f"  nprobe {nprobe:4d}: {row['query_ms']:7.2f} ms/query, recall@10 {row['recall_at_10']:.3f}")
        results.append(row)
        if row["recall_at_10"] >= 0.995:
            break
    return results


def best_at_target(rows: list[dict], target: float = 0.95) -> dict | None:
    ok = [r for r in rows if r["recall_at_10"] >= target]
    return min(ok, key=lambda r: r["query_ms"]) if ok else None


def uniform_workload(args: argparse.Namespace, workdir: Path) -> dict:
    db = workdir / "bench.db"
    log(f"inserting {args.rows:,} x {args.dim} into {db} ...")
    report: dict = {"insert": insert(db, args.rows, args.dim, args.batch, args.seed)}
    log(f"  {report['insert']['rows_per_s']:,.0f} rows/s, db {report['insert']['db_bytes'] / 1e9:.2f} GB")

    with open_store(db, create=False) as store:
        collection = store.collection("bench")
        start = time.perf_counter()
        stored = collection.load_matrix(cache=False)
        report["load_sqlite_seconds"] = time.perf_counter() - start
        del stored
        start = time.perf_counter()
        collection.load_matrix()  # from SQLite, then writes the matrix cache beside the db
        report["load_and_write_cache_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        stored = collection.load_matrix()
        report["load_cached_seconds"] = time.perf_counter() - start
        log(f"load {stored.vectors.nbytes / 1e9:.2f} GB: from SQLite {report['load_sqlite_seconds']:.2f} s, "
            f"+ writing the cache {report['load_and_write_cache_seconds']:.2f} s, "
            f"from the cache {report['load_cached_seconds']:.2f} s")

        queries = uniform_chunk(np.random.default_rng(args.seed + 1), args.queries, args.dim)
        read = memory_read_seconds(stored.vectors)
        exact, truth_rows = time_exact(stored.vectors, queries)
        report["exact"] = {"memory_read_ms": 1000 * read, "query_ms": 1000 * exact, "ratio": exact / read,
                           "read_gb_per_s": stored.vectors.nbytes / read / 1e9}
        log(f"exact top-10: {1000 * exact:.1f} ms/query; one read of the matrix: {1000 * read:.1f} ms "
            f"({report['exact']['read_gb_per_s']:.1f} GB/s); ratio {exact / read:.2f}")
        truth_ids = stored.ids[truth_rows]
        del stored

        start = time.perf_counter()
        index = load_or_build_index(collection)
        report["index_build_and_save_seconds"] = time.perf_counter() - start
        del index
        start = time.perf_counter()
        index = load_or_build_index(collection)
        report["index_load_seconds"] = time.perf_counter() - start
        log(f"IVF-Flat nlist {index.nlist}: build+save {report['index_build_and_save_seconds']:.1f} s, "
            f"load {report['index_load_seconds']:.2f} s")
        default_nprobe = index.nprobe
        report["approximate"] = {"nlist": index.nlist, "default_nprobe": default_nprobe,
                                 "sweep": sweep(index, queries, truth_ids)}
        report["approximate"]["best_at_0.95"] = best_at_target(report["approximate"]["sweep"])
    if not args.keep:
        for path in workdir.glob("bench.db*"):
            path.unlink()
    return report


def clustered_workload(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed + 2)
    centres = normalize(rng.standard_normal((max(1, args.rows // PER_CENTRE), args.dim), dtype=np.float32))
    log(f"clustered: generating {args.rows:,} vectors around {len(centres)} centres ...")
    matrix = np.empty((args.rows, args.dim), dtype=np.float32)
    for offset in range(0, args.rows, 100_000):
        end = min(args.rows, offset + 100_000)
        matrix[offset:end] = clustered_chunk(rng, centres, end - offset)
    queries = clustered_chunk(rng, centres, args.queries)
    exact, truth = time_exact(matrix, queries)
    start = time.perf_counter()
    index = build_index(matrix, np.arange(args.rows, dtype=np.int64))
    build = time.perf_counter() - start
    log(f"  IVF-Flat nlist {index.nlist}: build {build:.1f} s; exact {1000 * exact:.1f} ms/query")
    default_nprobe = index.nprobe
    rows = sweep(index, queries, truth)
    return {"exact_query_ms": 1000 * exact, "nlist": index.nlist, "default_nprobe": default_nprobe,
            "index_build_seconds": build, "sweep": rows, "best_at_0.95": best_at_target(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10_000, help="rows per insert transaction")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--skip-clustered", action="store_true")
    parser.add_argument("--only-clustered", action="store_true", help="just the in-memory approximate-search run")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    import_faiss()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="clapcli-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict = {"rows": args.rows, "dim": args.dim, "queries": args.queries}
    if not args.only_clustered:
        report["uniform"] = uniform_workload(args, workdir)
    if not args.skip_clustered:
        report["clustered"] = clustered_workload(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
