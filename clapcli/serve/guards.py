"""HTTP-side safety: JSON errors, the upload size limit and the bearer token (pure ASGI pieces).

Every error leaves the server as ``{"error": "<one line>"}`` with a status code that says whose
fault it is: 400 unusable input or a Host that is not the server's name, 401 no/wrong token, 403 a
foreign Origin on a POST, or a row pointing outside the library,
404 no such collection or item, 413 upload too large, 422 a malformed request, 503 busy.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.responses import FileResponse

from clapcli.text import printable

DEFAULT_UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes


def one_line(message: str) -> str:
    """The first line of a message, control characters escaped (a file name cannot split it)."""
    text = str(message).strip()
    return printable(text.splitlines()[0] if text else "error")


def error_body(message: str) -> bytes:
    return json.dumps({"error": one_line(message)}).encode()


async def send_error(send: Any, status: int, message: str, headers: list | None = None) -> None:
    body = error_body(message)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, counting what arrives (a missing or
    false Content-Length cannot get more through), before the form parser spools anything."""

    def __init__(self, app: Any, limit: int = DEFAULT_UPLOAD_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = f"the upload is larger than the server's limit of {self.limit / 1e6:g} MB; send a shorter clip " \
                  "or start the server with a larger --max-upload-mb"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await send_error(send, 413, message)
        received = 0
        exceeded = False
        replaced = False

        async def limited_receive() -> dict:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > self.limit:  # stop reading: whatever the app answers becomes a 413
                    exceeded = True
                    return {"type": "http.disconnect"}
            return event

        async def limited_send(event: dict) -> None:
            nonlocal replaced
            if exceeded:
                if event["type"] == "http.response.start" and not replaced:
                    replaced = True
                    await send_error(send, 413, message)
                return
            await send(event)

        try:
            await self.app(scope, limited_receive, limited_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not replaced:
            await send_error(send, 413, message)


# Paths anyone may read without the token: the page's own files and the API's description.
OPEN_PATHS = ("/", "/favicon.ico", "/docs", "/openapi.json", "/docs/oauth2-redirect")


class BearerToken:
    """With a token set, every request other than the page's files needs ``Authorization: Bearer
    TOKEN`` (or ``?token=TOKEN``, for the audio element, which cannot send headers)."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.token is None or scope["type"] != "http" or _is_open(scope.get("path", "")):
            return await self.app(scope, receive, send)
        if not self._valid(scope):
            return await send_error(send, 401, "this server needs its token: send 'Authorization: Bearer TOKEN' "
                                    "or open the page with ?token=TOKEN", [(b"www-authenticate", b"Bearer")])
        return await self.app(scope, receive, send)

    def _valid(self, scope: dict) -> bool:
        from urllib.parse import parse_qs

        given = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        candidate = given[7:] if given.lower().startswith("bearer ") else None
        if candidate is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            candidate = (query.get("token") or [None])[0]
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token.encode())  # type: ignore[union-attr]


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith("/static/")


# Methods that change or compute something: a foreign Origin on them is refused. (A cross-site GET
# cannot read the answer without CORS headers, which this server never sends.)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class HostGuard:
    """DNS rebinding guard: ``Host`` must be one of ``hosts`` (Starlette's ``TrustedHostMiddleware``
    decides; its plain-text refusal becomes our JSON error), and an ``Origin`` sent with a POST must
    name one of them too. A page on another site whose name resolves to 127.0.0.1 sends its own name
    in both, so it never reaches the library."""

    def __init__(self, app: Any, hosts: list[str]) -> None:
        self.app = app
        self.hosts = hosts
        self.open = "*" in hosts

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.open or scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        passed = False

        async def inner(scope: dict, receive: Any, send: Any) -> None:
            nonlocal passed
            passed = True
            origin = _header(scope, b"origin")
            if scope.get("method") in UNSAFE_METHODS and origin is not None and not self._origin_ok(origin):
                return await send_error(send, 403, f"Origin '{origin}' is another site; this server takes "
                                        "uploads only from its own page (or from clients that send no Origin)")
            await self.app(scope, receive, send)

        async def refuse(event: dict) -> None:  # only TrustedHostMiddleware's own refusal reaches here
            if event["type"] == "http.response.start":
                host = _header(scope, b"host") or "(none)"
                await send_error(send, 400, f"Host '{host}' is not this server's name; open it as "
                                 f"http://127.0.0.1:PORT (allowed: {', '.join(self.hosts)}; more with --allow-host)")

        checked = TrustedHostMiddleware(inner, self.hosts, www_redirect=False)
        await checked(scope, receive, lambda event: send(event) if passed else refuse(event))

    def _origin_ok(self, origin: str) -> bool:
        from urllib.parse import urlsplit

        try:
            host = urlsplit(origin).hostname
        except ValueError:
            return False
        return host is not None and _bracketed(host) in self.hosts


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host.lower()


def _header(scope: dict, name: bytes) -> str | None:
    value = dict(scope.get("headers") or []).get(name)
    return None if value is None else printable(value.decode("latin-1"))


class JsonErrorFileResponse(FileResponse):
    """A FileResponse whose refusals of a bad ``Range`` (Starlette answers them in plain text) are
    the server's JSON errors, keeping their status and headers (416's ``Content-Range``)."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        refused: dict | None = None

        async def send_json_errors(event: dict) -> None:
            nonlocal refused
            if event["type"] == "http.response.start" and event["status"] in (400, 416):
                refused = event
                return
            if refused is None:
                return await send(event)
            if event["type"] == "http.response.body" and not event.get("more_body"):
                detail = event.get("body", b"").decode("latin-1").strip()
                reason = detail if detail.startswith("Range") else f"Range {detail or 'not satisfiable'}"
                if refused["status"] == 416:
                    reason = f"Range {_range_of(scope)} is not within the file ({reason.removeprefix('Range ')})"
                kept = [(k, v) for k, v in refused["headers"] if k.lower() == b"content-range"]
                await send_error(send, refused["status"], reason, kept)

        await super().__call__(scope, receive, send_json_errors)


def _range_of(scope: dict) -> str:
    return printable(dict(scope.get("headers") or []).get(b"range", b"").decode("latin-1"))
