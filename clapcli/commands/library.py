"""``clap library list|info|rm|prune``: the collections of a library (as ``llm collections`` does)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import typer

from clapcli.console.guards import DryRunOpt, YesOpt
from clapcli.console.options import DbOpt, QuietOpt, RecordFormat, plain
from clapcli.settings import DEFAULT_COLLECTION

EPILOG = """\
Examples:

  clap library list                          # collections of the default library

  clap library list --db lib.db --format json

  clap library info drums --db lib.db       # also: items tagged, and how many have each tag on top

  clap library prune --db lib.db             # drop rows of files that were deleted (every collection)

  clap library prune --db lib.db --dry-run   # only say which rows would go

  clap library rm drums --db lib.db          # delete a collection and its rows (asks first)

  clap library rm drums --db lib.db --yes    # in a script: no one to ask
"""

COLUMNS = ["collection", "model", "dim", "kind", "rows", "bytes", "updated"]

FormatOpt = Annotated[RecordFormat | None, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
                                                        help="table, csv, json or jsonl. Default: table on "
                                               "a terminal, csv when piped.", show_default=False)]
NameArg = Annotated[str, typer.Argument(help="Collection name.", show_default=False)]

library_app = typer.Typer(
    name="library", help="List, inspect, prune and delete the collections of a library (--db).",
    no_args_is_help=True, epilog=EPILOG, rich_markup_mode="rich",
)


def _describe(store, name: str) -> dict:
    """One collection: model, dimension, rows, bytes of vectors and paths, last update (UTC, ISO 8601)."""
    collection = store.collection(name, create=False)
    with store.read() as db:
        rows, size, updated = db.execute(
            "SELECT count(*), coalesce(sum(length(vector) + length(path) + length(hash)), 0), max(created) "
            "FROM items WHERE collection_id = ?", (collection.id,)).fetchone()
    when = updated if updated is not None else collection.created
    segments = collection.segments()
    kind = "files" if segments is None else f"segments {segments[0]:g} s / hop {segments[1]:g} s"
    return {
        "collection": name, "model": collection.model_id, "dim": collection.dim, "kind": kind, "rows": rows,
        "bytes": size,
        "updated": datetime.fromtimestamp(when, timezone.utc).isoformat(timespec="seconds"),
    }


@library_app.command("list", epilog=EPILOG)
def list_collections(db: DbOpt = None, fmt: FormatOpt = None) -> None:
    """One line per collection: name, model, dimension, rows, bytes on disk, last update."""
    from clapcli.io.writers import default_record_format, record_writer
    from clapcli.store import open_store

    fmt = default_record_format(fmt, None)
    with open_store(db, readonly=True) as store, \
            record_writer(fmt, None, False, COLUMNS, title=str(store.path)) as sink:
        for name in store.collection_names():
            sink.write(_describe(store, name))


@library_app.command("info", epilog=EPILOG)
def info(
    name: Annotated[str, typer.Argument(help=f"Collection name. Default: {DEFAULT_COLLECTION}.",
                                        show_default=False)] = DEFAULT_COLLECTION,
    db: DbOpt = None, fmt: FormatOpt = None,
) -> None:
    """A collection's model, dimension, rows, size, last update, tag counts ('clap tag'), and the file's size."""
    from clapcli.io.writers import default_record_format, record_writer
    from clapcli.store import open_store

    fmt = default_record_format(fmt, None)
    with open_store(db, readonly=True) as store:
        record = {**_describe(store, name), **_tags(store, name), "db": str(store.path),
                  "db_bytes": _file_bytes(store.path)}
    with record_writer(fmt, None, False, [*COLUMNS, "tagged", "tags", "db", "db_bytes"], title=name) as sink:
        sink.write(record)


@library_app.command("rm", epilog=EPILOG)
def remove(name: NameArg, db: DbOpt = None, yes: YesOpt = False, quiet: QuietOpt = False) -> None:
    """Delete a collection and all its rows (the files they describe are not touched). Asks first on a
    terminal; off a terminal it needs --yes."""
    from clapcli.console.guards import confirm
    from clapcli.console.output import Output
    from clapcli.store import open_store

    out = Output(quiet)
    with open_store(db, create=False) as store:
        count = store.collection(name, create=False).count()  # an unknown name: usage error naming the collections
        what = f"collection '{name}' ({_rows(count)}) from {store.path}"
        if not confirm(f"delete {what}?", f"not deleting {what}", yes):
            out.note(f"{store.path}: collection '{name}' kept ({_rows(count)})")
            return
        rows = store.delete_collection(name)
    out.note(f"{store.path}: collection '{name}' removed ({_rows(rows)})")


@library_app.command("prune", epilog=EPILOG)
def prune(
    names: Annotated[list[str] | None, typer.Argument(help="Collections to prune. Default: every one.",
                                                      show_default=False)] = None,
    db: DbOpt = None, dry_run: DryRunOpt = False, quiet: QuietOpt = False,
) -> None:
    """Drop the rows whose file no longer exists (--dry-run: only say which)."""
    from clapcli.console.output import Output
    from clapcli.store import open_store

    out = Output(quiet)
    with open_store(db, create=False, readonly=dry_run) as store:
        for name in names or store.collection_names():
            gone = store.collection(name, create=False).prune(dry_run=dry_run)
            if dry_run:
                for path in gone:
                    out.note(f"would prune: {path}")
                out.note(f"{store.path} '{name}': {_rows(len(gone))} of missing files would be pruned "
                         f"(dry run: nothing removed)")
                continue
            out.note(f"{store.path} '{name}': {_rows(len(gone))} of missing files pruned")


def _tags(store, name: str) -> dict:  # noqa: ANN001
    """How many items have tag scores, and per tag how many have it on top ("ambient 12, drums 30")."""
    from clapcli.store.tags import tagged_count, top_tag_counts

    collection = store.collection(name, create=False)
    counts = sorted(top_tag_counts(collection).items(), key=lambda pair: (-pair[1], pair[0]))
    return {"tagged": tagged_count(collection), "tags": ", ".join(f"{label} {count}" for label, count in counts)}


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _file_bytes(path) -> int:  # noqa: ANN001
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += path.with_name(path.name + suffix).stat().st_size
        except OSError:
            pass
    return total


def register(app: typer.Typer) -> None:
    app.add_typer(library_app, name="library")
