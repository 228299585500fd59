"""Counts read right ("1 file", "1 event", "1 shard") and slow runs give seconds per input, not
"0.0 inputs/s" (issue 23 item 14)."""

from __future__ import annotations

import pytest

from clapcli.console.common import FailureLog
from clapcli.console.output import Output


@pytest.mark.parametrize("done, seconds, tail", [
    (1, 31.25, "1 file written in 31.2 s, 31.2 s per input"),
    (3, 12.0, "3 files written in 12.0 s, 4.0 s per input"),
    (10, 2.0, "10 files written in 2.0 s, 5.0 inputs/s"),
])
def test_summary_rate(monkeypatch, done, seconds, tail):
    log = FailureLog(Output())
    monkeypatch.setattr("clapcli.console.common.time.monotonic", lambda: log.started + seconds)
    assert log.summary_line(done, "files written") == tail

