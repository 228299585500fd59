"""Time bounds on every hub request (docs/design.md §3): a hub that half-answers ends the run in seconds.

huggingface_hub waits up to 60 s per read and retries timeouts (5 times with backoff for metadata, and
without end for a download that keeps receiving a byte now and then), so a hub that answers the probe
and then stalls or trickles held a run for minutes. clapcli wraps the client huggingface_hub shares
(the one transformers and diffusers download through) so that, with ``t`` = CLAPCLI_HUB_TIMEOUT:

- connecting, and every read of an answer, may wait at most ``t`` seconds;
- a download must bring at least ``MIN_RATE`` bytes per second over every ``t``-second window (or end);
- the first request that misses either bound turns the run offline (as the probe does): it and every
  later request raise huggingface_hub's ``OfflineModeIsEnabled`` (a download: ``HubStalled``), so the
  libraries fall back to the local cache and nothing is retried against a stalled hub.

The failure is kept (``stall()``) so ``models.hub`` can name the model and say how much of which file
arrived; a partial file stays in huggingface_hub's cache and the next run resumes it.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlparse

# Slower than this (bytes per second, over a window of CLAPCLI_HUB_TIMEOUT seconds) counts as stalled.
MIN_RATE = 1000


class HubStalled(ConnectionError):
    """A hub request missed its time bound; an OSError as libraries expect, but not an httpx error, so
    neither huggingface_hub nor transformers retries it."""

    def __init__(self, endpoint: str, what: str, got: int | None = None, total: int | None = None,
                 file: str = "a file") -> None:
        self.endpoint = endpoint
        self.what = what  # "no answer to config.json within 2 s", "nothing for 2 s", ...
        self.got = got  # bytes of the file in hand (a resumed download counts what it had), None: no body yet
        self.total = total
        self.file = file
        super().__init__(self.describe())

    @property
    def partial(self) -> bool:
        """A file download had begun: the bytes are in the cache and the next run resumes."""
        return self.got is not None

    def describe(self) -> str:
        if self.got is None:
            return f"{self.endpoint} stopped answering: {self.what}"
        of = f" of {_size(self.total)}" if self.total else ""
        return f"{self.endpoint} stopped sending {self.file}: got {_size(self.got)}{of} ({self.what})"


def _size(count: int | None) -> str:
    count = count or 0
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


# endpoint -> the first stall of this run there
_stalls: dict[str, HubStalled] = {}
_lock = threading.Lock()
_timeout = 10.0


def stall() -> HubStalled | None:
    """The stall that turned this run offline, if any (for the endpoint huggingface_hub uses now)."""
    from huggingface_hub import constants

    return _stalls.get(constants.ENDPOINT)


def install(timeout: float) -> None:
    """Bound huggingface_hub's shared client by ``timeout`` (idempotent; a later call updates the bound)."""
    global _timeout
    from huggingface_hub.utils import _http

    _timeout = timeout
    # a factory the caller set (proxies, certificates) is kept, wrapped
    current = getattr(_http, "_GLOBAL_CLIENT_FACTORY", _http.default_client_factory)
    if getattr(current, "clapcli_bounded", False):
        return

    def factory() -> Any:
        return _bounded(current())

    factory.clapcli_bounded = True  # type: ignore[attr-defined]
    _http.set_client_factory(factory)


def _bounded(client: Any) -> Any:
    """``client`` with its ``send`` (every request goes through it) and body reads under the bounds."""
    import httpx2
    from huggingface_hub.errors import OfflineModeIsEnabled

    send = client.send

    def bounded_send(request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        ours = _cap_timeouts(request)
        try:
            return send(request, **kwargs)
        except (httpx2.TimeoutException, httpx2.ConnectError) as exc:
            # a caller's own shorter timeout (huggingface_hub's best-effort telemetry asks for 3 s) is its choice
            if not ours and isinstance(exc, httpx2.TimeoutException):
                raise
            stalled = HubStalled(_origin(request.url), _no_answer(request, exc))
            _stalled(stalled)
            # what every later request of the run raises: huggingface_hub falls back to a cached copy, and
            # retries nothing (a timeout it would retry, with backoff, for up to a minute)
            raise OfflineModeIsEnabled(stalled.describe()) from exc

    client.send = bounded_send
    client.event_hooks["response"].append(_bound_body)
    return client


def _cap_timeouts(request: Any) -> bool:
    """Every timeout of ``request`` at most ours; True when its read timeout is ours (not shorter)."""
    given = request.extensions.get("timeout") or {}
    request.extensions["timeout"] = {
        key: _timeout if given.get(key) is None else min(given[key], _timeout)
        for key in ("connect", "read", "write", "pool")
    }
    return bool(request.extensions["timeout"]["read"] >= _timeout)


def _no_answer(request: Any, exc: Exception) -> str:
    path = unquote(urlparse(str(request.url)).path)
    asked = f" to {_file_name(request.url)}" if "/resolve/" in path else ""
    if "Timeout" in type(exc).__name__:
        return f"no answer{asked} within {_timeout:g} s"
    return f"no connection{asked} ({type(exc).__name__})"


def _bound_body(response: Any) -> None:
    """The response's body stream under the rate rule (a response hook: runs before the body is read)."""
    response.stream = _bounded_body_class()(response)


@functools.cache
def _bounded_body_class() -> type:
    """``_BoundedBody`` as an ``httpx2.SyncByteStream`` (httpx2 checks the type), built on first use so
    importing this module does not import httpx2."""
    import httpx2

    return type("BoundedBody", (_BoundedBody, httpx2.SyncByteStream), {})


def _stalled(error: HubStalled) -> None:
    from huggingface_hub import constants

    with _lock:
        _stalls.setdefault(constants.ENDPOINT, error)
        constants.HF_HUB_OFFLINE = True  # read by huggingface_hub before every request


class _BoundedBody:
    """Iterates the raw body as it arrives: a read that times out, or a window of ``_timeout`` seconds
    bringing under ``MIN_RATE`` bytes per second, raises ``HubStalled`` (so does a stall elsewhere)."""

    def __init__(self, response: Any) -> None:
        self.inner = response.stream
        self.url = response.request.url
        self.file = _file_name(self.url, response.headers.get("Content-Disposition"))
        self.start, self.total = _range(response.headers)

    def __iter__(self) -> Iterator[bytes]:
        import httpx2

        got = 0
        window_start, window_bytes = time.monotonic(), 0
        chunks = iter(self.inner)
        try:
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
                except httpx2.TimeoutException:
                    raise self._stall(got, f"nothing for {_timeout:g} s") from None
                got += len(chunk)
                window_bytes += len(chunk)
                now = time.monotonic()
                if now - window_start >= _timeout:
                    if window_bytes < MIN_RATE * _timeout:
                        rate = window_bytes / (now - window_start)
                        raise self._stall(got, f"{rate:.0f} B/s for {now - window_start:.0f} s, "
                                               f"under {MIN_RATE / 1000:g} kB/s")
                    window_start, window_bytes = now, 0
                if stall() is not None:  # another download of the run stalled: the run is offline
                    raise self._stall(got, "the hub stalled on another file")
                yield chunk
        except HubStalled:
            # closed here, not by the garbage collector at exit (which prints "Exception ignored in")
            getattr(chunks, "close", lambda: None)()
            self.inner.close()
            raise

    def _stall(self, got: int, what: str) -> HubStalled:
        error = HubStalled(_origin(self.url), what, self.start + got, self.total, self.file)
        _stalled(error)
        return error

    def close(self) -> None:
        self.inner.close()


def _range(headers: Any) -> tuple[int, int | None]:
    """(where this body starts in the file, the file's size): a resumed download answers 206 with
    ``Content-Range: bytes START-END/TOTAL``."""
    content_range = headers.get("Content-Range", "")
    if content_range.startswith("bytes ") and "/" in content_range:
        span, _, total = content_range[6:].partition("/")
        try:
            return int(span.split("-")[0]), int(total) if total != "*" else None
        except ValueError:
            pass
    length = headers.get("Content-Length")
    return 0, int(length) if length and length.isdigit() else None


def _origin(url: Any) -> str:
    return f"{url.scheme}://{url.netloc.decode() if isinstance(url.netloc, bytes) else url.netloc}"


def _file_name(url: Any, disposition: str | None = None) -> str:
    """The repo file a URL is about: ``.../resolve/REV/path/in/repo`` -> its path, else the URL's path
    (a CDN's answer names the file in its Content-Disposition)."""
    if disposition and "filename=" in disposition:
        return disposition.split("filename=", 1)[1].split(";")[0].strip().strip('"')
    path = unquote(urlparse(str(url)).path)
    if "/resolve/" in path:
        return path.split("/resolve/", 1)[1].partition("/")[2] or path
    return path or "/"
