"""``clap retrieve``: find sounds (or images) by description or by example, or caption them from a list."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from clapcli.commands.library import DEFAULT_COLLECTION, CollectionOpt, DbOpt
from clapcli.commands.options import (
    DeviceOpt,
    DtypeOpt,
    LongAudioOpt,
    ModelOpt,
    OutputOpt,
    OverwriteOpt,
    PrecisionOpt,
    QuietOpt,
    RecordFormat,
    RuntimeOpt,
    plain,
)

EPILOG = """\
Examples:

  clap embed ~/samples --db library.db                                  # build / update the library first

  clap retrieve "vinyl crackle with soft piano" --db library.db -k 10   # text -> audio

  clap retrieve query.wav --db library.db -k 10                         # audio -> audio (by example)

  clap retrieve song.wav --captions-file captions.txt -k 5              # audio -> text

  clap retrieve "dog" --embeddings sounds.parquet                       # search a 'clap embed' output file

  clap retrieve "rain" --db library.db --format json | jq .

A query naming an existing file is media (audio, or an image for image-text models such as
AltCLIP); anything else is text. --text QUERY is always text (as in 'clap embed'); --as-text makes
every query text. (A bare --text, 0.1's spelling of --as-text, works until the next release.)
The model is the one the collection or file was built with; another --model is refused.
Exit codes: 0 ok, 1 error, 2 usage, 3 some queries failed (the others are written).
"""


def retrieve(
    ctx: typer.Context,
    queries: Annotated[list[str] | None, typer.Argument(help="Texts and/or media files (an existing file is audio "
                                                        "or image).", show_default=False)] = None,
    db: DbOpt = None,
    collection: CollectionOpt = None,
    embeddings: Annotated[Path | None, typer.Option(
        "--embeddings", "-e", help="Search a 'clap embed' output file (.parquet .npy .jsonl .json .csv "
        ".safetensors) instead of the library.", show_default=False, dir_okay=False)] = None,
    captions_old: Annotated[str | None, typer.Option("--captions", hidden=True, show_default=False)] = None,
    captions: Annotated[str | None, typer.Option(
        "--captions-file", help="Audio -> text: rank the captions in this file (one per line, - for stdin) for "
        "each audio query. (--captions, the old spelling, works until the next release.)",
        show_default=False)] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Results per query.")] = 10,
    approximate: Annotated[bool, typer.Option(
        "--approximate", help="Use the faiss index beside the db (built on first use, rebuilt when the "
        "collection changed); needs clapcli\\[faiss].")] = False,
    nprobe: Annotated[int | None, typer.Option(
        "--nprobe", min=1, help="With --approximate: index lists probed per query (more = better recall, "
        "slower). Default: 1/15 of them (recall@10 ~0.95 on clustered data).", show_default=False)] = None,
    rebuild_index: Annotated[bool, typer.Option("--rebuild-index", help="With --approximate: rebuild the "
                                                "index now.")] = False,
    texts: Annotated[list[str] | None, typer.Option("--text", "-t", metavar="QUERY", show_default=False,
                                                    help="A text query; repeatable (as in 'clap embed --text').")]
    = None,
    as_text: Annotated[bool, typer.Option("--as-text", help="Treat every query as text, even if a file has "
                                          "that name.")] = False,
    include_self: Annotated[bool, typer.Option("--include-self", help="Audio -> audio: keep the query file "
                                               "itself among the hits (left out by default).")] = False,
    all_segments: Annotated[bool, typer.Option("--all-segments", help="Segment collections: list every matching "
                                               "window, not only the best one per file.")] = False,
    fmt: Annotated[RecordFormat | None, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
                                                     help="table, csv, json or jsonl. Default: table on a "
                                            "terminal, csv when piped, else from --output's extension.",
                                            show_default=False)] = None,
    output: OutputOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = "auto",
    long_audio: LongAudioOpt = None,
    runtime: RuntimeOpt = None,
    precision: PrecisionOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Search audio (or images) by text or by example, or rank captions, with cosine similarity."""
    from clapcli.commands.common import FailureLog, ModelOptions
    from clapcli.commands.output import Output
    from clapcli.core.retrieve import (
        LazyModel,
        parse_queries,
        room_for_self,
        search_captions,
        search_file,
        search_library,
        without_self,
    )
    from clapcli.errors import InputError, UsageError
    from clapcli.io.readers import read_text_file
    from clapcli.io.writers import check_output_path, default_record_format, record_writer

    if captions_old is not None:  # documented in 0.1; one option vocabulary: --labels-file, --text-file, ...
        if captions is not None:
            raise UsageError("give --captions-file once (--captions is its old spelling)")
        captions = captions_old
        Output().warning("--captions is now --captions-file (like --labels-file and --text-file); the old "
                         "spelling goes in the next release")
    if captions is not None and embeddings is not None:
        raise UsageError("--captions-file and --embeddings are two different targets; give one")
    if (captions is not None or embeddings is not None) and (db is not None or collection is not None):
        raise UsageError("--db/--collection search the library; drop them with --captions-file or --embeddings")
    if (nprobe is not None or rebuild_index) and not approximate:
        raise UsageError("--nprobe and --rebuild-index go with --approximate")
    if approximate and (captions is not None or embeddings is not None):
        raise UsageError("--approximate searches a library collection (--db); files and captions are searched exactly")
    if not queries and not texts:
        ctx.fail("Missing argument 'QUERIES...': give texts or media files, or --text QUERY.")  # as the parser says it
    parsed = parse_queries(list(queries or []), as_text) + parse_queries(list(texts or []), True)
    fmt = default_record_format(fmt, output)
    label = "text" if captions is not None else "path"
    columns = ["query", "rank", "score", label]  # the same columns for one query as for many
    if output is not None:
        check_output_path(output, overwrite)  # fail before loading a model, not after searching
    options = ModelOptions(model, device, dtype, None, long_audio, runtime, precision)
    lazy = LazyModel(lambda name: replace(options, model=name).load(), model)
    extra = room_for_self(parsed, include_self or captions is not None)
    if captions is not None:
        lines = read_text_file(captions, "captions")
        if not lines:
            raise UsageError(f"captions file '{captions}' has no captions")
        results, failed = search_captions(parsed, lines, lazy, top_k)
    elif embeddings is not None:
        results, failed = search_file(parsed, embeddings, lazy, top_k + extra)
    else:
        results, failed = search_library(parsed, db, collection or DEFAULT_COLLECTION, lazy, top_k + extra,
                                         approximate, nprobe, rebuild_index, all_segments)
    if any(hit.start is not None for result in results for hit in result.hits):
        columns += ["start", "end"]  # a segment collection: where in the file each hit is
    if extra:  # room was made for the query itself; leave it out
        results = [without_self(result, top_k) for result in results]
    if failed and not results:
        raise InputError(f"{failed[0].source}: {failed[0].reason}")
    with record_writer(fmt, output, overwrite, columns) as sink:
        for result in results:
            for hit in result.hits:
                row = {"query": result.query.raw, "rank": hit.rank, "score": hit.score, label: hit.target}
                if hit.start is not None:
                    row.update(start=round(hit.start, 3), end=round(hit.end, 3))  # type: ignore[arg-type]
                sink.write(row)
    failures = FailureLog(Output(quiet=True))
    for failure in failed:
        failures.add(failure)
    failures.finish(len(results), "queries searched", summary=False)


def legacy_text_flag(args: list[str]) -> tuple[list[str], bool]:
    """0.1's ``retrieve --text`` was a flag (every query is text); now it takes a query, as in embed.
    A bare ``--text`` (last, or followed by another option) still means ``--as-text`` for one release."""
    if not args or args[0] != "retrieve":
        return args, False
    fixed, changed = list(args), False
    for index, arg in enumerate(fixed):
        if arg == "--":
            break
        following = fixed[index + 1] if index + 1 < len(fixed) else None
        if arg == "--text" and (following is None or following.startswith("-") and following != "-"):
            fixed[index], changed = "--as-text", True
    return fixed, changed


def register(app: typer.Typer) -> None:
    app.command("retrieve", epilog=EPILOG)(retrieve)
