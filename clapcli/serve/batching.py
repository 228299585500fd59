"""Micro-batching: concurrent requests gathered into one call (one forward pass, one matrix pass).

A worker thread takes the first waiting request and everything queued behind it, up to
``max_batch``. When more requests are expected (others are in flight, or the previous batch had
company) it waits at most ``max_wait`` seconds for them: until the batch is as large as the last
one, so concurrent clients whose answers just went out are caught as they come back, instead of
the first of them running alone. A lone client (nothing else in flight, and the last batch was one
request) is served at once: batching never delays it. The whole list goes to ``work``, which
returns one result (or exception) per request. ``max_batch=1`` is one-at-a-time: the same
queue and thread, no gathering, which is what the benchmark compares against. Callers get a
``concurrent.futures.Future`` (async code wraps it with ``asyncio.wrap_future``), so no request
ties up a server thread while it waits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

Request = TypeVar("Request")

DEFAULT_MAX_BATCH = 32
DEFAULT_MAX_WAIT = 0.005  # seconds the first request of a batch waits for company
QUEUE_LIMIT = 1024  # requests waiting at most; more get an immediate "busy" error

_STOP = object()


class Busy(Exception):
    """The queue is full: the server is overloaded."""


class MicroBatcher(Generic[Request]):
    """Runs ``work(requests) -> results`` on one thread, a batch of waiting requests at a time."""

    def __init__(self, work: Callable[[Sequence[Request]], Sequence[Any]], max_batch: int = DEFAULT_MAX_BATCH,
                 max_wait: float = DEFAULT_MAX_WAIT, name: str = "clapcli-batcher") -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.work = work
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.batches = 0  # calls of ``work`` so far (the tests read it)
        self._in_flight = 0  # submitted, not yet answered
        self._last_size = 1  # requests in the previous batch: how many are likely to come back
        self._count_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, request: Request) -> Future:
        future: Future = Future()
        with self._count_lock:
            self._in_flight += 1
        future.add_done_callback(self._done)
        try:
            self._queue.put_nowait((request, future))
        except queue.Full:
            future.cancel()
            raise Busy(f"the server is busy ({QUEUE_LIMIT} requests waiting); retry in a moment") from None
        return future

    def _done(self, future: Future) -> None:
        with self._count_lock:
            self._in_flight -= 1

    def close(self, timeout: float = 5.0) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put((_STOP, None))
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first[0] is _STOP:
                return
            batch = [first]
            stop = False
            if self.max_batch > 1:
                stop = self._gather(batch)
            self._execute(batch)
            if stop:
                return

    def _gather(self, batch: list) -> bool:
        """Add waiting requests up to ``max_batch``, waiting up to ``max_wait`` while fewer than
        expected are here; True when a stop was seen."""
        import time

        with self._count_lock:
            others = self._in_flight - 1
        expected = min(self.max_batch, max(self._last_size, others + 1))
        if expected <= 1:  # a lone client pays no batching delay
            expected = 0
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic() if len(batch) < expected else 0.0
            try:
                entry = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                return False
            if entry[0] is _STOP:
                return True
            batch.append(entry)
        return False

    def _execute(self, batch: list) -> None:
        live = [(request, future) for request, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        self.batches += 1
        self._last_size = len(live)
        try:
            results = self.work([request for request, _ in live])
        except BaseException as exc:  # one failing batch fails its requests, never the thread
            for _, future in live:
                future.set_exception(exc)
            return
        for (_, future), result in zip(live, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
