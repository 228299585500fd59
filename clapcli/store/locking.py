"""Retrying SQLite operations that another process's lock made fail."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from clapcli.errors import ClapcliError

RETRY_ATTEMPTS = 8

T = TypeVar("T")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def retry(action: Callable[[], T], what: str) -> T:
    """Run ``action``, retrying with jittered backoff when another process holds the lock
    (the busy timeout already waited; this covers the cases SQLite reports without waiting).
    Other errors propagate unchanged, for the caller to name."""
    for attempt in range(RETRY_ATTEMPTS):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            if attempt == RETRY_ATTEMPTS - 1:
                raise ClapcliError(f"{what}: {exc}; another process may be holding the database") from None
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")
