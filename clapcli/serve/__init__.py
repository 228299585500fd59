"""``clap serve``: a local web page and JSON API over a library (needs ``clapcli[serve]``).

``build(options)`` gives the ASGI app (tests drive it with an HTTP client); ``run(options, output)``
serves it with uvicorn until Ctrl-C or SIGTERM, which shut it down cleanly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clapcli.errors import InvalidField, missing_extra

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# Names a browser on this machine uses for a loopback server: the only Host / Origin names accepted
# by default, so a page whose own name resolves to 127.0.0.1 (DNS rebinding) is refused.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
EVERY_ADDRESS = ("0.0.0.0", "::", "[::]", "")


@dataclass
class ServeOptions:
    db: Path
    collection: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    no_auth: bool = False
    approximate: bool = False
    nprobe: int | None = None
    batching: bool = True
    max_batch: int = 32
    max_wait_ms: float = 5.0
    upload_limit_mb: float = 50.0
    max_upload_seconds: float = 600.0  # audio per upload, decoded: a small FLAC can hold hours
    check_interval: float = 1.0
    request_timeout: float = 30.0  # seconds for a request to arrive whole (slow clients are cut)
    allow_hosts: tuple[str, ...] = ()  # more names clients may use in Host (a LAN name); "*": any
    probe: Path | None = None  # a probe from 'clap train': the zero-shot bars use its classes


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """``host`` as it appears in a Host header: lower case, an IPv6 address in brackets."""
    bare = host.strip().strip("[]").lower()
    return f"[{bare}]" if ":" in bare else bare


def allowed_hosts(options: ServeOptions) -> list[str]:
    """The names accepted in ``Host`` and ``Origin``: loopback, the bound address, ``--allow-host``.
    On every address with a token and no ``--allow-host``, any name (``["*"]``): the token is what
    a rebinding page lacks."""
    extra = [host_name(name) for name in options.allow_hosts]
    if "*" in extra or (options.host in EVERY_ADDRESS and not extra and options.token is not None):
        return ["*"]
    own = [] if options.host in EVERY_ADDRESS else [host_name(options.host)]
    return sorted(set(LOOPBACK_NAMES) | set(own) | set(extra))


def check_options(options: ServeOptions) -> None:
    """Refuse unsafe or contradictory options before anything is loaded."""
    if options.token is not None and options.no_auth:
        raise InvalidField("token", "{token} and {no_auth} contradict each other; give one")
    if options.token is not None and not (options.token.isascii() and options.token.isprintable()
                                          and " " not in options.token):
        # HTTP headers carry bytes that clients and servers read as Latin-1: a non-ASCII token sent by
        # one client could never match; spaces and control characters do not survive either.
        raise InvalidField("token", "{token} must be printable ASCII without spaces (it travels in an HTTP header); "
                           "e.g. {token} \"$(openssl rand -hex 16)\"")
    if options.token is not None and len(options.token) < 8:
        raise InvalidField("token", "{token} is too short to protect anything; use at least 8 characters")
    if not is_loopback(options.host) and options.token is None and not options.no_auth:
        raise InvalidField("host", "{host} {value} lets other machines reach the library; give {token} SECRET "
                           "(clients send 'Authorization: Bearer SECRET'), or {no_auth} to serve it openly",
                           value=options.host)
    if not 0 <= options.port <= 65535:
        raise InvalidField("port", "{port} {value} is not a TCP port (0-65535)", value=options.port)
    if options.upload_limit_mb <= 0:
        raise InvalidField("upload_limit_mb", "{upload_limit_mb} must be above 0")
    if not options.request_timeout > 0:
        raise InvalidField("request_timeout", "{request_timeout} must be above 0")
    if not options.max_upload_seconds > 0:
        raise InvalidField("max_upload_seconds", "{max_upload_seconds} must be above 0")
    if options.host in EVERY_ADDRESS and options.no_auth and not options.allow_hosts:
        raise InvalidField("allow_hosts", "{host} {value} {no_auth}: give the names clients use with {allow_hosts} "
                           "NAME (any web page could otherwise read the library through a browser on this network), "
                           "or {allow_hosts} '*' to accept any", value=options.host or "0.0.0.0")
    if options.nprobe is not None and not options.approximate:
        raise InvalidField("nprobe", "{nprobe} goes with {approximate}")


def import_stack() -> None:
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise missing_extra((exc.name or "fastapi").replace("_", "-"), "serve") from None


def build(options: ServeOptions, loader: Callable[[str], Any] | None = None) -> Any:
    """The ASGI app over ``options.db`` (the engine is at ``app.fastapi.state.engine``)."""
    from clapcli.serve.app import create_app
    from clapcli.serve.engine import Engine
    from clapcli.serve.library import LibraryState
    from clapcli.settings import DEFAULT_COLLECTION

    check_options(options)
    import_stack()
    library = LibraryState(options.db, options.approximate, options.check_interval)
    names = library.names()
    if not names:
        raise InvalidField("db", "{db} {path} has no collections yet; fill it with 'clap embed FILES --db {path}'",
                           path=options.db)
    default = options.collection or (DEFAULT_COLLECTION if DEFAULT_COLLECTION in names else names[0])
    if default not in names:
        raise InvalidField("db", "{db} {path} has no collection '{name}' (collections: {names})", path=options.db,
                           name=default, names=", ".join(names))
    if loader is None:
        from clapcli.models.loading import load_embedding_model

        loader = load_embedding_model
    engine = Engine(library, loader, options.batching, options.max_batch, options.max_wait_ms / 1000,
                    options.nprobe, options.max_upload_seconds)
    engine.probe = _probe(options.probe, library) if options.probe is not None else None
    return create_app(engine, default, options.token, int(options.upload_limit_mb * 1024 * 1024),
                      allowed_hosts(options))


def _probe(path: Path, library: Any) -> Any:
    """The probe, refused in one line when no collection of the library uses its model."""
    from clapcli.core.probe.store import load_probe

    probe = load_probe(path)
    models = {snap.name: snap.model_id for snap in library.snapshots()}
    if probe.model_id not in models.values():
        listed = ", ".join(f"{name} ({model})" for name, model in models.items())
        raise InvalidField("probe", "{probe} {path}: trained on '{model}', which no collection of {db} uses "
                           "(collections: {listed}); train a probe with the library's model", path=path,
                           model=probe.model_id, db=library.db, listed=listed)
    return probe


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def run(options: ServeOptions, note: Callable[[str], None], loader: Callable[[str], Any] | None = None,
        announce: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C / SIGTERM. ``note`` receives the start-up lines, ``announce`` (default
    ``note``) the one with the URL, which even --quiet shows."""
    import uvicorn

    app = build(options, loader)
    engine = app.fastapi.state.engine
    engine.warm()  # load each collection's model once, before the first request
    sock = _bind(options.host, options.port)
    port = sock.getsockname()[1]
    library = engine.library
    counts = ", ".join(f"{s.name} ({s.count})" for s in library.snapshots())
    note(f"serving {library.db}: {counts}")
    if not is_loopback(options.host):
        note(f"listening on {options.host}: other machines can connect; "
             + ("requests need the bearer token" if options.token else "--no-auth: no token is asked for"))
    (announce or note)(f"open {url_of(options.host if options.host not in ('0.0.0.0', '::') else DEFAULT_HOST, port)} "
         "(API: /docs); Ctrl-C stops")
    from clapcli.serve.timeouts import timed_protocol

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            http=timed_protocol(options.request_timeout))
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shut down cleanly on Ctrl-C / SIGTERM, then raised the signal again once its handlers were
        # gone (our SIGTERM handler: Terminated). A server stopped on purpose exits 0, quietly.
        pass
    finally:
        engine.close()
        try:
            sock.close()
        except OSError:
            pass


def _bind(host: str, port: int) -> Any:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it a response written in two pieces (headers,
    # body) waits ~40 ms for the client's delayed ACK (Nagle), on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        field, hint = ("port", "pick another {port} (or {port} 0 for any free one)") if exc.errno in (98, 48) \
            else ("host", "check {host}")
        raise InvalidField(field, "cannot listen on {address} ({reason}); " + hint, address=f"{host}:{port}",
                           reason=exc.strerror or exc) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
