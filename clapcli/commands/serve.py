"""``clap serve``: a local web page and JSON API over a library (search, more like this, zero-shot)."""

from __future__ import annotations

from typing import Annotated

import typer

from clapcli.console.options import (
    CollectionOpt,
    DbOpt,
    DeviceOpt,
    DtypeOpt,
    LongAudioOpt,
    PrecisionOpt,
    ProbeOpt,
    QuietOpt,
    RuntimeOpt,
)

EPILOG = """\
Examples:

  clap embed ~/samples --db library.db                  # build / update the library first

  clap serve --db library.db                            # prints http://127.0.0.1:8765; opens nothing

  clap serve --db library.db --port 9000 --collection drums

  clap serve --db library.db --approximate              # search with the faiss index (large libraries)

  clap serve --db library.db --host 0.0.0.0 --token "$(openssl rand -hex 16)"   # reachable from the LAN

  clap serve --db library.db --probe my-probe/           # zero-shot bars: the probe's classes ('clap train')

  curl 'http://127.0.0.1:8765/api/search/text?q=vinyl+crackle&k=5'

The page: type a description, play hits (seekable), "more like this", drop a file to find similar
sounds, switch collections, and a zero-shot page (drop a file, type labels, see scores). The API is
described at /docs. The library is opened read-only and re-read when 'clap embed --db' changes it.
Binds 127.0.0.1 by default; another --host needs --token (or an explicit --no-auth). Requests whose
Host is not a loopback name, the --host address or an --allow-host name are refused (DNS rebinding),
as are POSTs from another site's page (Origin).
Needs the serve extra: pip install 'clapcli[serve]'.
"""


def serve(
    db: DbOpt = None,
    collection: CollectionOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on. Anything but loopback needs --token "
                                      "or --no-auth.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free one).")] = 8765,
    token: Annotated[str | None, typer.Option("--token", envvar="CLAPCLI_SERVE_TOKEN", help="Bearer token every "
                                              "API request must carry (also $CLAPCLI_SERVE_TOKEN).",
                                              show_default=False)] = None,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="Serve a non-loopback --host without a token.")] = False,
    allow_host: Annotated[list[str] | None, typer.Option("--allow-host", help="Another name clients may use in "
                                                         "the Host header (a LAN name; repeatable; '*': any). "
                                                         "Others are refused.", show_default=False)] = None,
    approximate: Annotated[bool, typer.Option("--approximate", help="Search with the faiss index beside the db "
                                              "(built when missing or stale); needs clapcli\\[faiss].")] = False,
    nprobe: Annotated[int | None, typer.Option("--nprobe", min=1, help="With --approximate: index lists probed "
                                               "per query.", show_default=False)] = None,
    no_batching: Annotated[bool, typer.Option("--no-batching", help="Embed each text query alone instead of "
                                              "batching concurrent ones into one forward pass.")] = False,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted, in MB.")] = 50.0,
    max_upload_seconds: Annotated[float, typer.Option("--max-upload-seconds", help="Most audio an upload may "
                                                      "hold, in seconds (checked before decoding; a small "
                                                      "compressed file can hold hours).")] = 600.0,
    request_timeout: Annotated[float, typer.Option("--request-timeout", help="Seconds a client has to send a "
                                                   "request whole; slower ones get 408 and are "
                                                   "disconnected.")] = 30.0,
    device: DeviceOpt = None,
    dtype: DtypeOpt = "auto",
    long_audio: LongAudioOpt = None,
    runtime: RuntimeOpt = None,
    precision: PrecisionOpt = None,
    probe: ProbeOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Serve a library as a web page and a JSON API (text -> audio, audio -> audio, zero-shot)."""
    _check_upload_limit(max_upload_mb)
    from clapcli.console.output import Output
    from clapcli.serve import ServeOptions, run
    from clapcli.store import default_db_path

    output = Output(quiet)
    options = ServeOptions(db or default_db_path(), collection, host, port, token, no_auth, approximate, nprobe,
                           batching=not no_batching, upload_limit_mb=max_upload_mb,
                           max_upload_seconds=max_upload_seconds, request_timeout=request_timeout,
                           allow_hosts=tuple(allow_host or ()), probe=probe)

    def load(model_id: str):
        from clapcli.console.common import ModelOptions

        return ModelOptions(model_id, device, dtype, None, long_audio, runtime, precision).load()

    run(options, output.note, load, announce=Output().note)


def _check_upload_limit(megabytes: float) -> None:
    import math

    from clapcli.errors import UsageError

    if not (math.isfinite(megabytes) and megabytes > 0):  # inf or NaN would end as an OverflowError in int()
        raise UsageError(f"--max-upload-mb {megabytes:g}: give a positive number of MB")


def register(app: typer.Typer) -> None:
    app.command("serve", epilog=EPILOG)(serve)
