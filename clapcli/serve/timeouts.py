"""Slow clients: a request must arrive whole within ``request_timeout`` seconds.

uvicorn closes idle kept-alive connections, but a client that sends half a request (headers never
finished, or a body shorter than its Content-Length) holds its connection, and a worker waiting on
it, forever. ``timed_protocol`` subclasses uvicorn's HTTP protocol with one timer per connection,
armed when it opens and again after each response: when it fires while the server is still waiting
for the client, the client gets a 408 (if nothing was answered yet) and the connection is closed.
Time the server spends computing an answer is not counted: that is not the client's doing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from clapcli.serve.guards import error_body

DEFAULT_REQUEST_TIMEOUT = 30.0  # seconds for a request's headers and body to arrive


def timed_protocol(seconds: float) -> type:
    """uvicorn's HTTP protocol class (httptools, else h11) with the request timeout."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class TimedProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _request_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._request_timer = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._request_timer is not None:
                self._request_timer.cancel()
                self._request_timer = None

        def _expire(self) -> None:
            self._request_timer = None
            cycle = self.cycle
            arriving = cycle is None or cycle.response_complete or cycle.more_body
            if not arriving or self.transport.is_closing():
                return  # the request is complete and being answered
            if cycle is None or cycle.response_complete or not cycle.response_started:
                self.transport.write(_timeout_response(seconds))
            self.transport.close()  # an app waiting on the body sees a disconnect

    return TimedProtocol


def _timeout_response(seconds: float) -> bytes:
    body = error_body(f"the request did not arrive within {seconds:g} s; send it whole, faster "
                      "(the server closes slow connections)")
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
