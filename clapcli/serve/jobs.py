"""Answers too slow for a request: the map, the duplicate groups. Computed on first request, in the
background, one at a time, and kept (bounded) under a key that names the library state they read.

``Jobs.get(key, compute)`` returns the answer when it is ready, else starts ``compute`` (only once:
concurrent requests for one key share the run) and says it is not ready yet; the route answers 202
and the page asks again. The workers are daemon threads, so a long computation never delays Ctrl-C.
Only one runs at a time (a semaphore): two would only fight over the same cores, and the searches
of other clients keep theirs. A computation's error is kept like an answer (the key changes with
the library, so a fixed library gets a fresh run).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

ENTRIES = 8  # answers kept (each a map or a duplicate report of one collection at one setting)
WAIT = 2.0  # seconds a request waits for a fresh computation before answering 202


class NotReady(Exception):
    """The answer is being computed; ask again (answered with 202)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is being computed; ask again in a moment")


class Jobs:
    def __init__(self, entries: int = ENTRIES, running: int = 1) -> None:
        self.entries = entries
        self._slot = threading.Semaphore(running)
        self._lock = threading.Lock()
        self._found: OrderedDict[Hashable, Future] = OrderedDict()
        self.started = 0  # computations begun (the tests read it)

    def future(self, key: Hashable, compute: Callable[[], Any]) -> Future:
        """The (maybe unfinished) computation of ``key``, started when missing."""
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
                return found
            found = Future()
            self._found[key] = found
            while len(self._found) > self.entries:
                self._found.popitem(last=False)  # a running one still finishes; its answer is dropped
            self.started += 1
        threading.Thread(target=self._run, args=(found, compute), daemon=True, name="clapcli-view-job").start()
        return found

    def _run(self, future: Future, compute: Callable[[], Any]) -> None:
        with self._slot:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(compute())
            except BaseException as exc:  # kept, and raised to each request that asks
                future.set_exception(exc)


async def answer(jobs: Jobs, key: Hashable, compute: Callable[[], Any], what: str, wait: float = WAIT) -> Any:
    """The answer of ``key``, waiting up to ``wait`` seconds for it; ``NotReady`` beyond."""
    import asyncio

    future = jobs.future(key, compute)
    try:
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout=wait)
    except TimeoutError:
        raise NotReady(what) from None
