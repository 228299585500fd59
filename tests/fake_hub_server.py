"""A minimal Hugging Face hub over HTTP on 127.0.0.1, serving the files of local folders as model repos:
the endpoints ``snapshot_download`` uses (repo info, tree listing, HEAD/GET of resolve URLs).

Faults of a hub that half-answers (``fault=``), each bounded in time (a held connection is let go after
``hold`` seconds or when the hub closes):

- ``"stall"``: the first ``answered`` requests are answered, every later one is read and never answered;
- ``"stall-body"``: file downloads (GET .../resolve/...) send their headers and half the file, then stop;
- ``"trickle"``: file downloads send one byte every ``trickle_every`` seconds.

Repos named in ``gated`` refuse every request as the hub refuses a gated model without an accepted
licence and token (401, ``X-Error-Code: GatedRepo``)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, Path], fault: str | None = None, answered: int = 1, hold: float = 30.0,
                 trickle_every: float = 0.05, gated: tuple[str, ...] = ()) -> None:
        assert fault in (None, "stall", "stall-body", "trickle"), fault
        self.repos = repos
        self.requests: list[str] = []
        self.fault = fault
        self.answered = answered
        self.hold = hold
        self.trickle_every = trickle_every
        self.gated = gated
        self.closing = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's names
                hub.answer(self, body=False)

            def do_GET(self) -> None:  # noqa: N802
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closing.set()  # lets held and trickling answers go
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo: str) -> list[str]:
        root = self.repos[repo]
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlparse(handler.path).path)
        self.requests.append(f"{handler.command} {path}")
        if self.fault == "stall" and len(self.requests) > self.answered:
            self.closing.wait(self.hold)  # read, never answered
            return
        for repo, root in self.repos.items():
            if repo in self.gated and (path.startswith(f"/api/models/{repo}") or path.startswith(f"/{repo}/")):
                message = b'{"error": "Access to model ' + repo.encode() + b' is restricted."}'
                return self._send(handler, 401, message, body, "application/json", {"X-Error-Code": "GatedRepo"})
            if path.startswith(f"/api/models/{repo}/tree/"):
                under = path[len(f"/api/models/{repo}/tree/"):].partition("/")[2].strip("/")
                items = [{"type": "file", "path": f, "size": (root / f).stat().st_size, "oid": SHA}
                         for f in self.files(repo) if not under or f.startswith(under + "/")]
                if under and not items:
                    return self._entry_not_found(handler, body)
                return self._send(handler, 200, json.dumps(items).encode(), body, "application/json")
            if path.startswith(f"/api/models/{repo}"):
                info = {"id": repo, "modelId": repo, "sha": SHA, "private": False,
                        "siblings": [{"rfilename": f} for f in self.files(repo)]}
                return self._send(handler, 200, json.dumps(info).encode(), body, "application/json")
            prefix = f"/{repo}/resolve/"
            if path.startswith(prefix):
                name = path[len(prefix):].split("/", 1)[1]
                if (root / name).is_file():
                    data = (root / name).read_bytes()
                    etag = hashlib.sha256(data).hexdigest()
                    headers = {"X-Repo-Commit": SHA, "ETag": f'"{etag}"'}
                    if body and self.fault in ("stall-body", "trickle"):
                        return self._send_slowly(handler, data, headers)
                    return self._send(handler, 200, data, body, "application/octet-stream", headers)
                return self._entry_not_found(handler, body)  # the repo exists, the file does not
        self._send(handler, 404, b'{"error": "Repository not found"}', body, "application/json",
                   {"X-Error-Code": "RepoNotFound"})

    def _send_slowly(self, handler: BaseHTTPRequestHandler, data: bytes, headers: dict[str, str]) -> None:
        """Headers and then half the file and nothing more ("stall-body"), or a byte at a time ("trickle")."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        try:
            if self.fault == "stall-body":
                handler.wfile.write(data[: len(data) // 2])
                handler.wfile.flush()
                self.closing.wait(self.hold)
                return
            deadline = time.monotonic() + self.hold
            for i in range(len(data)):
                if self.closing.is_set() or time.monotonic() > deadline:
                    return
                handler.wfile.write(data[i:i + 1])
                handler.wfile.flush()
                time.sleep(self.trickle_every)
        except OSError:  # the client gave up
            return

    def _entry_not_found(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        self._send(handler, 404, b'{"error": "Entry not found"}', body, "application/json",
                   {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": SHA})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, data: bytes, body: bool, kind: str,
              headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if body:
            handler.wfile.write(data)
