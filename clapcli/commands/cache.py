"""``clap cache list|rm|prune``: the files clapcli derives and can rebuild (exports, compiled towers, int8
copies, converted checkpoints, file hashes) and the hub's copies of its models, with size and last use."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import typer

from clapcli.console.guards import YesOpt
from clapcli.console.options import QuietOpt, RecordFormat, plain

EPILOG = """\
Examples:

  clap cache list                            # each entry, its size and last use

  clap cache rm 'exports/*'                  # say what would go (a dry run)

  clap cache rm 'exports/*' --yes            # remove them

  clap cache rm --all --yes                  # everything clapcli derived (never the library, never hub/)

  clap cache rm hub/cvssp/audioldm2 --yes    # a downloaded model (through huggingface_hub)

  clap cache prune --older-than 30           # what was not used for 30 days (a dry run)
"""

COLUMNS = ["entry", "bytes", "last_used", "path"]

cache_app = typer.Typer(
    name="cache", help="List and remove the files clapcli derives and can rebuild ($CLAPCLI_HOME, ~/.cache/clapcli).",
    no_args_is_help=True, epilog=EPILOG, rich_markup_mode="rich",
)


@cache_app.command("list", epilog=EPILOG)
def list_entries(
    fmt: Annotated[RecordFormat | None, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
                                                     help="table, csv, json or jsonl. Default: table on a "
                                                     "terminal, csv when piped.", show_default=False)] = None,
) -> None:
    """One line per entry: exports/, openvino-cache/, onnx-int8/, converted/, file-hashes.json and hub/ (the
    hub cache's copies of clapcli's models)."""
    from clapcli.core.cache import cache_entries, cache_root
    from clapcli.io.writers import default_record_format, record_writer

    fmt = default_record_format(fmt, None)
    with record_writer(fmt, None, False, COLUMNS, title=str(cache_root())) as sink:
        for entry in cache_entries():
            sink.write({"entry": entry.name, "bytes": entry.bytes, "path": str(entry.path),
                        "last_used": datetime.fromtimestamp(entry.last_used, timezone.utc).isoformat(
                            timespec="seconds")})


@cache_app.command("rm", epilog=EPILOG)
def remove(
    pattern: Annotated[str | None, typer.Argument(help="Entries to remove, as 'clap cache list' names them; shell "
                                                  "patterns work ('exports/*'), a folder names all of its "
                                                  "entries.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every entry.")] = False,
    yes: YesOpt = False, quiet: QuietOpt = False,
) -> None:
    """Remove cache entries. A dry run unless --yes: says what would be removed."""
    from clapcli.console.output import Output
    from clapcli.core.cache import cache_entries, cache_root, matching
    from clapcli.errors import UsageError

    if (pattern is None) == (not all_):
        raise UsageError("clap cache rm: give a PATTERN (as 'clap cache list' names entries) or --all, not both"
                         if all_ else "clap cache rm: give a PATTERN (as 'clap cache list' names entries) or --all")
    out = Output(quiet)
    entries = cache_entries()
    chosen = matching(entries, pattern)
    if not chosen:
        known = ", ".join(entry.name for entry in entries) or "it is empty"
        out.note(f"nothing in {cache_root()} matches {pattern!r} (entries: {known})")
        return
    _remove(out, chosen, yes)


@cache_app.command("prune", epilog=EPILOG)
def prune(
    older_than: Annotated[float, typer.Option("--older-than", min=0, help="Days since an entry was last used.",
                                              metavar="DAYS")] = 30.0,
    yes: YesOpt = False, quiet: QuietOpt = False,
) -> None:
    """Remove the entries not used for --older-than days (hub/ included). A dry run unless --yes."""
    import time

    from clapcli.console.output import Output
    from clapcli.core.cache import cache_entries
    from clapcli.core.cache import older_than as stale

    out = Output(quiet)
    chosen = stale(cache_entries(), older_than, time.time())
    if not chosen:
        out.note(f"every cache entry was used within {older_than:g} days; nothing to prune")
        return
    _remove(out, chosen, yes)


def _remove(out, chosen: list, yes: bool) -> None:  # noqa: ANN001 - console.output.Output
    from clapcli.core.cache import cache_root
    from clapcli.core.cache import remove as remove_entries
    from clapcli.text import plural

    size = _size(sum(entry.bytes for entry in chosen))
    if not yes:
        for entry in chosen:
            out.note(f"would remove: {entry.name} ({_size(entry.bytes)})")
        out.note(f"{plural(len(chosen), 'entry', 'entries')}, {size} would be removed (dry run); "
                 "pass --yes to remove them")
        return
    remove_entries(chosen)
    out.note(f"removed {plural(len(chosen), 'entry', 'entries')} from {cache_root()} and the hub cache ({size} freed)"
             if any(e.name.startswith("hub/") for e in chosen)
             else f"removed {plural(len(chosen), 'entry', 'entries')} from {cache_root()} ({size} freed)")


def _size(count: int) -> str:
    value, unit = float(count), "bytes"
    for bigger in ("kB", "MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
