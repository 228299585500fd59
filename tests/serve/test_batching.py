"""Micro-batching: concurrent requests share one call of the work, results go back in order."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from clapcli.serve.batching import MicroBatcher


def test_concurrent_requests_are_gathered_into_batches() -> None:
    seen: list[list[int]] = []
    gate = threading.Event()

    def work(requests):
        gate.wait(5)  # hold the first batch so the others pile up in the queue
        seen.append(list(requests))
        return [r * 10 for r in requests]

    batcher = MicroBatcher(work, max_batch=8, max_wait=0.05)
    futures = [batcher.submit(i) for i in range(20)]
    gate.set()
    assert [f.result(5) for f in futures] == [i * 10 for i in range(20)]
    assert sorted(x for batch in seen for x in batch) == list(range(20))
    assert max(len(batch) for batch in seen) == 8 and len(seen) < 20
    batcher.close()


def test_max_batch_one_is_one_at_a_time() -> None:
    seen: list[int] = []
    batcher = MicroBatcher(lambda requests: seen.append(len(requests)) or list(requests), max_batch=1)
    futures = [batcher.submit(i) for i in range(10)]
    assert [f.result(5) for f in futures] == list(range(10))
    assert seen == [1] * 10 and batcher.batches == 10
    batcher.close()


def test_failures_reach_their_callers_and_the_thread_survives() -> None:
    def work(requests):
        if "boom" in requests:
            raise RuntimeError("the whole batch failed")
        return [ValueError(r) if r == "bad" else r.upper() for r in requests]

    batcher = MicroBatcher(work, max_batch=4, max_wait=0.0)
    assert batcher.submit("ok").result(5) == "OK"
    with pytest.raises(ValueError, match="bad"):
        batcher.submit("bad").result(5)
    with pytest.raises(RuntimeError, match="whole batch"):
        batcher.submit("boom").result(5)
    assert batcher.submit("still").result(5) == "STILL"
    batcher.close()


def test_batched_text_searches_equal_one_at_a_time(served, loaded_clap) -> None:
    """Concurrent searches through the engine (one forward pass) give each query's own hits."""
    from clapcli.core.search import exact_top_k
    from clapcli.core.text import encode_texts

    engine = served.fastapi.state.engine
    snapshot = engine.library.snapshot("default")
    texts = [f"a sound number {i}" for i in range(12)] + ["rain", "rain"]
    before = engine.batcher.batches
    with engine.compute_lock:  # the first batch waits for the model, so the others queue up behind it
        with ThreadPoolExecutor(14) as pool:
            futures = list(pool.map(lambda t: engine.submit_text_search(snapshot, t, 3 + len(t) % 3), texts))
    got = [f.result(10) for f in futures]
    assert engine.batcher.batches - before < len(texts)  # some were batched together
    for text, hits in zip(texts, got, strict=True):
        scores, rows = exact_top_k(snapshot.vectors, encode_texts(loaded_clap, [text]), 3 + len(text) % 3)
        assert [h.item_id for h in hits] == snapshot.ids[rows[0]].tolist()
        np.testing.assert_allclose([h.score for h in hits], scores[0], atol=1e-5)


def test_a_lone_client_is_served_without_waiting_for_company() -> None:
    """Nothing else in flight and the last batch was one request: no wait for the time limit
    (30 s here; each answer comes long before it)."""
    batcher = MicroBatcher(lambda requests: [r + 1 for r in requests], max_batch=32, max_wait=30.0)
    for i in range(5):
        assert batcher.submit(i).result(timeout=5) == i + 1
    assert batcher.batches == 5
    batcher.close()


def test_after_a_batch_the_next_one_waits_for_the_clients_coming_back() -> None:
    """Answers of a 4-request batch went out; their clients send again one by one: the first
    waits (up to the time limit) until as many as last time are here, instead of running alone."""
    seen: list[int] = []
    started, gate = threading.Event(), threading.Event()

    def work(requests):
        started.set()
        gate.wait(5)
        seen.append(len(requests))
        return list(requests)

    batcher = MicroBatcher(work, max_batch=8, max_wait=30.0)
    blocker = batcher.submit(-1)  # alone: runs at once and holds the thread while four more queue up
    assert started.wait(5)
    first = [batcher.submit(i) for i in range(4)]
    gate.set()
    assert blocker.result(5) == -1 and [f.result(5) for f in first] == [0, 1, 2, 3]
    assert seen == [1, 4]
    again = []
    for i in range(4):  # sequential, as clients reading their answers would be
        again.append(batcher.submit(10 + i))
        assert not again[0].done() or i == 3
    assert [f.result(5) for f in again] == [10, 11, 12, 13]
    assert seen[-1] == 4
    batcher.close()


def test_a_full_queue_answers_503_busy_and_the_server_recovers(library_db, loaded_clap,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from clapcli.serve import ServeOptions, batching, build

    monkeypatch.setattr(batching, "QUEUE_LIMIT", 3)
    app = build(ServeOptions(library_db), loader=lambda model_id: loaded_clap)
    engine = app.fastapi.state.engine
    snapshot = engine.library.snapshot("default")
    waiting = []
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        with engine.compute_lock:  # the batcher's first request blocks on the model: the queue fills up
            waiting.append(engine.submit_text_search(snapshot, "query", 2))
            for _ in range(5000):
                if waiting[0].running():  # taken by the batcher (alone), which now waits for the model
                    break
                time.sleep(0.001)
            waiting.extend(engine.submit_text_search(snapshot, f"query {i}", 2) for i in range(3))
            with pytest.raises(batching.Busy):
                engine.submit_text_search(snapshot, "one too many", 2)
            response = client.get("/api/search/text", params={"q": "rain", "k": 2})
            assert response.status_code == 503
            assert response.json() == {"error": "the server is busy (3 requests waiting); retry in a moment"}
        assert all(len(f.result(10)) == 2 for f in waiting)
        response = client.get("/api/search/text", params={"q": "rain", "k": 2})
        assert response.status_code == 200 and len(response.json()["hits"]) == 2
    engine.close()
