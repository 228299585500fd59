"""A writer process for the crash and concurrency tests.

Usage: writer_child.py DB PREFIX ROWS BATCH [--hang-in-batch N]
Upserts ROWS deterministic vectors named PREFIX/<i>.wav in batches of BATCH, skipping rows whose
hash is already stored (as ``clap embed --db`` does), printing "committed <count>" after each
commit. With --hang-in-batch N it opens batch N's transaction, inserts it, prints "in-flight" and
sleeps, so the parent can kill it with the transaction open.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from clapcli.store import ItemRow, open_store

DIM = 8


def vector(prefix: str, i: int) -> np.ndarray:
    return np.random.default_rng([sum(prefix.encode()), i]).standard_normal(DIM).astype(np.float32)


def main() -> None:
    db, prefix, rows, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    hang = int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[5] == "--hang-in-batch" else -1
    with open_store(db) as store:
        collection = store.collection("default", "test/model", DIM)
        done = collection.hashes()
        todo = [i for i in range(rows) if done.get(f"{prefix}/{i}.wav") != f"h{i}"]
        for number, start in enumerate(range(0, len(todo), batch)):
            items = [ItemRow(f"{prefix}/{i}.wav", f"h{i}", vector(prefix, i), 1.0) for i in todo[start : start + batch]]
            if number == hang:
                with store.write() as connection:
                    connection.executemany(
                        "INSERT INTO items (collection_id, path, hash, duration, model_id, created, vector) "
                        "VALUES (?, ?, ?, ?, ?, 0, ?)",
                        [(collection.id, r.path, r.hash, 1.0, "test/model", r.vector.tobytes()) for r in items],
                    )
                    print("in-flight", flush=True)
                    time.sleep(60)
            collection.upsert(items)
            print(f"committed {start + len(items)}", flush=True)


if __name__ == "__main__":
    main()
