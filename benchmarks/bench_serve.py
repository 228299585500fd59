"""``clap serve`` under load: text queries with batching on vs off, 1/8/32 concurrent clients.

A 100,000-vector library (random unit vectors of the model's dimension, one collection) is served
twice in this process, by two uvicorn servers on 127.0.0.1 over the same loaded model: one batches
concurrent text queries into one forward pass and one matmul over the matrix (``MicroBatcher``, 32
at most, 5 ms wait), the other embeds and searches one query at a time (``--no-batching``); both
run the same code otherwise. Each point sends ``--requests`` GET /api/search/text requests
(distinct texts, k=10) from N concurrent keep-alive connections, driven by a separate light
process (raw HTTP/1.1 over asyncio streams), and reports p50/p95 latency, requests/s, CPU per
request (server process, client process) and the load average; the two servers alternate point
by point, so a burst of load from other processes hits both.

Before that, the engine alone (embed + search, no HTTP) is timed at batch 1 and at the largest
client count: the ratio of the two per-query costs bounds what batching can give over HTTP.

The model is the full-size random-init CLAP (RoBERTa-base text tower: the released checkpoint's
cost per query) unless ``--tiny``. Target: with 32 clients, batching gives at least 3x the
requests/s of one-at-a-time.

Usage: python benchmarks/bench_serve.py [--rows 100000] [--requests 128] [--clients 1,8,32] [--tiny]
       [--runtime torch|openvino|onnx] [--precision exact|fast]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
from _common import ESC50_LABELS, model_dir, parser, report_header, report_ratio, setup_torch

PROMPTS = ("This is a sound of {}.", "{} recorded outdoors", "a loud {}", "soft {} in the distance",
           "{} with reverb", "close-up {}")


def build_library(work: Path, model: str, dim: int, rows: int) -> Path:
    """``rows`` random unit vectors in one collection, built once per (model, rows) and reused."""
    from clapcli.core.text import l2_normalize
    from clapcli.store import ItemRow, open_store

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
        # Connections stay open between points (uvicorn closes idle ones after 5 s by default).
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                                    timeout_keep_alive=3600))
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


def load(url: str, clients: int, requests: int, texts: list[str]) -> dict:
    """``requests`` searches from ``clients`` concurrent clients, run in a separate light process
    (raw keep-alive HTTP/1.1 over asyncio streams, no HTTP library), so the clients cost the server's
    two cores as little as possible and share no interpreter lock with it. Returns the client's
    report: latencies (s), wall seconds, the client process's CPU seconds."""
    import subprocess
    import sys

    spec = json.dumps({"url": url, "clients": clients, "requests": requests, "texts": texts})
    done = subprocess.run([sys.executable, __file__, "--client"], input=spec, capture_output=True, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"the load client failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def client_main() -> None:
    """The load generator (``--client``): reads its spec as JSON on stdin, prints its report."""
    import sys

    spec = json.load(sys.stdin)
    print(json.dumps(asyncio.run(_clients(spec["url"], spec["clients"], spec["requests"], spec["texts"]))))


async def _clients(url: str, clients: int, requests: int, texts: list[str]) -> dict:
    from urllib.parse import quote, urlsplit

    where = urlsplit(url)
    latencies: list[float] = []
    counter = iter(range(requests))

    def request(i: int) -> bytes:
        query = quote(texts[i % len(texts)])
        return f"GET /api/search/text?q={query}&k=10 HTTP/1.1\r\nHost: {where.netloc}\r\n\r\n".encode()

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        writer.write(request(i))
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        body = json.loads(await reader.readexactly(length))
        if status != 200 or len(body["hits"]) != 10:
            raise RuntimeError(f"bad answer {status}: {body}")

    connections = [await asyncio.open_connection(where.hostname, where.port) for _ in range(clients)]
    for reader, writer in connections:  # warm-up: every connection open and answered once
        await one(reader, writer, 0)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in counter:
            begin = time.perf_counter()
            await one(reader, writer, i)
            latencies.append(time.perf_counter() - begin)

    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(client(reader, writer) for reader, writer in connections))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    for _, writer in connections:
        writer.close()
    return {"latencies": latencies, "wall": wall, "cpu": cpu}


def cpu_line() -> str:
    """The CPU model and the vector extensions that decide its float32/bfloat16 speed."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "cpu: unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    shown = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return f"cpu: {name} ({' '.join(shown) or 'no avx2'})"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def compute_bound(model, db: Path, texts: list[str], batch: int, repeats: int) -> tuple[float, float]:
    """Seconds per query of the engine's own work (embed + search, no HTTP) at batch 1 and at
    ``batch``, fastest of ``repeats``: the speed-up batching can give at most."""
    from clapcli.serve import ServeOptions, build

    engine = build(ServeOptions(db, collection="bench", port=0), loader=lambda m: model).fastapi.state.engine
    snapshot = engine.library.snapshot("bench")
    from clapcli.serve.engine import TextSearch

    def run(size: int, offset: int) -> float:
        chosen = [TextSearch(snapshot, texts[(offset + i) % len(texts)], 10) for i in range(size)]
        start = time.perf_counter()
        engine._search_texts(chosen)
        return time.perf_counter() - start

    try:
        run(1, 0), run(batch, 0)  # warm-up of both shapes
        one = min(run(1, r) for r in range(3 * repeats))
        many = min(run(batch, r * batch) for r in range(repeats)) / batch
    finally:
        engine.close()
    return one, many


def main() -> None:
    p = parser(__doc__.splitlines()[0], files=0)
    p.add_argument("--rows", type=int, default=100_000, help="vectors in the served library")
    p.add_argument("--requests", type=int, default=128, help="requests per measured point")
    p.add_argument("--clients", default="1,8,32", help="concurrent clients per point")
    p.add_argument("--runtime", default="torch", choices=("torch", "openvino", "onnx"),
                   help="the model's runtime (clap serve --runtime); exported once into the work folder's cache")
    p.add_argument("--precision", default="exact", help="clap serve --precision (exact, fast, ...)")
    args = p.parse_args()
    setup_torch()
    os.environ.setdefault("CLAPCLI_HOME", str(args.work / "clapcli-home"))
    from clapcli.models.loading import load_embedding_model

    directory = model_dir(args.work, args.tiny)
    model = load_embedding_model(str(directory), device="cpu", runtime=args.runtime, precision=args.precision)
    db = build_library(args.work, str(directory), model.embedding_dim, args.rows)
    counts = [int(c) for c in args.clients.split(",")]
    report_header("clap serve: text search, batching on vs off", args,
                  f"| library {args.rows} x {model.embedding_dim}-d, {args.requests} requests per point, "
                  f"--runtime {args.runtime} --precision {args.precision}")
    print(cpu_line())
    texts = [prompt.format(label) for prompt in PROMPTS for label in ESC50_LABELS]
    top = max(counts)
    one, many = compute_bound(model, db, texts, top, args.repeats)
    print(f"engine alone (embed + search, no HTTP), fastest: {1000 * one:.1f} ms per query at batch 1, "
          f"{1000 * many:.1f} ms per query at batch {top}: batching can give at most {one / many:.2f}x "
          f"(load avg {load_average()})")
    servers = {"batching": Served(db, model, True), "one-at-a-time": Served(db, model, False)}
    results: dict[tuple[str, int], list[dict]] = {}
    try:
        for _ in range(args.repeats):
            for clients in counts:
                for name, served in servers.items():  # alternate: load bursts hit both sides
                    cpu, passes = time.process_time(), served.batches
                    run = load(served.url, clients, args.requests, texts)
                    run["server_cpu"] = time.process_time() - cpu  # this process: servers and model
                    # The client's warm-up (one request per connection, in turn) took one pass each.
                    run["batch"] = args.requests / max(1, served.batches - passes - clients)
                    run["load"] = os.getloadavg()[0]
                    results.setdefault((name, clients), []).append(run)
        batches = servers["batching"].batches
    finally:
        for served in servers.values():
            served.close()
    print(f"{'server':<14} {'clients':>7} {'p50 ms':>9} {'p95 ms':>9} {'req/s':>9} {'server cpu':>11} "
          f"{'client cpu':>11} {'batch':>6} {'load avg':>9}")
    rps: dict[tuple[str, int], float] = {}
    for clients in counts:
        for name in servers:
            runs = results[(name, clients)]
            best = max(runs, key=lambda run: len(run["latencies"]) / run["wall"])  # the steadiest round
            latencies = sorted(best["latencies"])
            rps[(name, clients)] = statistics.median(len(run["latencies"]) / run["wall"] for run in runs)
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            per = 1000 / args.requests
            print(f"{name:<14} {clients:>7} {1000 * statistics.median(latencies):9.1f} {1000 * p95:9.1f} "
                  f"{rps[(name, clients)]:9.1f} {per * statistics.median(r['server_cpu'] for r in runs):8.1f} ms "
                  f"{per * statistics.median(r['cpu'] for r in runs):8.1f} ms "
                  f"{statistics.median(r['batch'] for r in runs):6.1f} "
                  f"{statistics.median(r['load'] for r in runs):9.2f}")
    print(f"(cpu: per request, all threads; batch: requests per forward pass; req/s: median of {args.repeats} "
          "rounds; p50/p95: the fastest round)")
    print(f"batching server: {batches} forward passes for its requests; load avg at the end {load_average()}")
    ratio = rps[("batching", top)] / rps[("one-at-a-time", top)]
    print(f"ratio at {top} clients:")
    report_ratio("serve_batching_rps_ratio", ratio, ">= 3.0", ratio >= 3.0)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--client"]:
        client_main()
    else:
        main()
