"""``clap serve`` under load: text queries with batching on vs off, 1/8/32 concurrent clients.

A 100,000-vector library (random unit vectors of the model's dimension, one collection) is served
twice in this process, by two uvicorn servers on 127.0.0.1 over the same loaded model: one batches
concurrent text queries into one forward pass and one pass over the matrix (``MicroBatcher``, 32
at most, 5 ms wait), the other embeds and searches one query at a time (``--no-batching``).
Each point sends ``--requests`` GET /api/search/text requests (distinct texts, k=10) from N
concurrent clients (httpx, asyncio) and reports p50/p95 latency and requests/s; the two servers
alternate point by point, so a burst of load from other processes hits both.

The model is the full-size random-init CLAP (RoBERTa-base text tower: the released checkpoint's
cost per query) unless ``--tiny``. Target: with 32 clients, batching gives at least 3x the
requests/s of one-at-a-time.

Usage: python benchmarks/bench_serve.py [--rows 100000] [--requests 128] [--clients 1,8,32] [--tiny]
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from pathlib import Path

import numpy as np
from _common import ESC50_LABELS, model_dir, parser, report_header, report_ratio, setup_torch

from clapcli.core.text import l2_normalize
from clapcli.store import ItemRow, open_store

PROMPTS = ("This is a sound of {}.", "{} recorded outdoors", "a loud {}", "soft {} in the distance",
           "{} with reverb", "close-up {}")


def build_library(work: Path, model: str, dim: int, rows: int) -> Path:
    """``rows`` random unit vectors in one collection, built once per (model, rows) and reused."""
    db = work / f"serve-{Path(model).name}-{rows}.db"
    if db.exists():
        with open_store(db, readonly=True) as store:
            if "bench" in store.collection_names() and store.collection("bench", create=False).count() == rows:
                return db
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    rng = np.random.default_rng(0)
    with open_store(db) as store:
        collection = store.collection("bench", model, dim)
        for offset in range(0, rows, 10_000):
            vectors = l2_normalize(rng.standard_normal((min(10_000, rows - offset), dim), dtype=np.float32))
            collection.upsert([ItemRow(f"/bench/{offset + i:07d}.wav", f"{offset + i:032x}", vectors[i], 10.0)
                               for i in range(len(vectors))])
    return db


class Served:
    """One in-process uvicorn server over the library (a thread; stopped by ``close``)."""

    def __init__(self, db: Path, model, batching: bool) -> None:
        import uvicorn

        from clapcli.serve import ServeOptions, _bind, build

        self.app = build(ServeOptions(db, collection="bench", port=0, batching=batching), loader=lambda m: model)
        self.sock = _bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    @property
    def batches(self) -> int:
        return self.app.fastapi.state.engine.batcher.batches

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.fastapi.state.engine.close()
        self.sock.close()


async def load(url: str, clients: int, requests: int, texts: list[str]) -> tuple[list[float], float]:
    """``requests`` searches from ``clients`` concurrent clients: (latencies in s, wall seconds)."""
    import httpx

    latencies: list[float] = []
    counter = iter(range(requests))

    async def client(http: httpx.AsyncClient) -> None:
        for i in counter:
            start = time.perf_counter()
            response = await http.get("/api/search/text", params={"q": texts[i % len(texts)], "k": 10})
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()
            assert len(response.json()["hits"]) == 10

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as http:
        await http.get("/api/search/text", params={"q": "warm-up", "k": 10})
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - start
    return latencies, wall


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=0)
    p.add_argument("--rows", type=int, default=100_000, help="vectors in the served library")
    p.add_argument("--requests", type=int, default=128, help="requests per measured point")
    p.add_argument("--clients", default="1,8,32", help="concurrent clients per point")
    args = p.parse_args()
    setup_torch()
    from clapcli.models.loading import load_embedding_model

    directory = model_dir(args.work, args.tiny)
    model = load_embedding_model(str(directory), device="cpu")
    db = build_library(args.work, str(directory), model.embedding_dim, args.rows)
    counts = [int(c) for c in args.clients.split(",")]
    report_header("clap serve: text search, batching on vs off", args,
                  f"| library {args.rows} x {model.embedding_dim}-d, {args.requests} requests per point")
    texts = [prompt.format(label) for prompt in PROMPTS for label in ESC50_LABELS]
    servers = {"batching": Served(db, model, True), "one-at-a-time": Served(db, model, False)}
    results: dict[tuple[str, int], list[tuple[list[float], float]]] = {}
    try:
        for _ in range(args.repeats):
            for clients in counts:
                for name, served in servers.items():  # alternate: load bursts hit both sides
                    results.setdefault((name, clients), []).append(
                        asyncio.run(load(served.url, clients, args.requests, texts)))
        batches = servers["batching"].batches
    finally:
        for served in servers.values():
            served.close()
    print(f"{'server':<14} {'clients':>7} {'p50 ms':>9} {'p95 ms':>9} {'req/s':>9}")
    rps: dict[tuple[str, int], float] = {}
    for clients in counts:
        for name in servers:
            runs = results[(name, clients)]
            best = max(runs, key=lambda run: len(run[0]) / run[1])  # the steadiest round on a shared machine
            latencies = sorted(best[0])
            rps[(name, clients)] = statistics.median(len(run[0]) / run[1] for run in runs)
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            print(f"{name:<14} {clients:>7} {1000 * statistics.median(latencies):9.1f} {1000 * p95:9.1f} "
                  f"{rps[(name, clients)]:9.1f}")
    print(f"batching server: {batches} forward passes for its requests")
    top = max(counts)
    ratio = rps[("batching", top)] / rps[("one-at-a-time", top)]
    print(f"ratio at {top} clients:")
    report_ratio("serve_batching_rps_ratio", ratio, ">= 3.0", ratio >= 3.0)


if __name__ == "__main__":
    main()
