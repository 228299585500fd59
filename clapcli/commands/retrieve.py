"""``clap retrieve``: find sounds (or images) by description or by example, or caption them from a list."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clapcli.console.options import (
    FROM_FLAGS,
    CollectionOpt,
    DbOpt,
    OutputOpt,
    OverwriteOpt,
    QuietOpt,
    RecordFormat,
    plain,
    with_model_options,
)

if TYPE_CHECKING:
    from clapcli.console.common import ModelOptions

EPILOG = """\
Examples:

  clap embed ~/samples --db library.db                                  # build / update the library first

  clap retrieve "vinyl crackle with soft piano" --db library.db -k 10   # text -> audio

  clap retrieve query.wav --db library.db -k 10                         # audio -> audio (by example)

  clap retrieve song.wav --captions-file captions.txt -k 5              # audio -> text

  clap retrieve "dog" --embeddings sounds.parquet                       # search a 'clap embed' output file

  clap retrieve "rain" --db library.db --format json | jq .

  clap retrieve "warm pad" --db library.db --where "tag:ambient>0.5" --where "duration<30" --where "folder:synths"

A query naming an existing file is media (audio, or an image for image-text models such as
AltCLIP); anything else is text. --text QUERY is always text (as in 'clap embed'); --as-text makes
every query text. (A bare --text, 0.1's spelling of --as-text, works until the next release.)
The model is the one the collection or file was built with; another --model is refused.
Exit codes: 0 ok, 1 error, 2 usage, 3 some queries failed (the others are written).
"""


QueriesArg = Annotated[list[str] | None, typer.Argument(
    help="Texts and/or media files (an existing file is audio or image).", show_default=False)]
EmbeddingsOpt = Annotated[Path | None, typer.Option(
    "--embeddings", "-e", help="Search a 'clap embed' output file (.parquet .npy .jsonl .json .csv "
    ".safetensors) instead of the library.", show_default=False, dir_okay=False)]
CaptionsOldOpt = Annotated[str | None, typer.Option("--captions", hidden=True, show_default=False)]
CaptionsOpt = Annotated[str | None, typer.Option(
    "--captions-file", help="Audio -> text: rank the captions in this file (one per line, - for stdin) for "
    "each audio query. (--captions, the old spelling, works until the next release.)", show_default=False)]
TopKOpt = Annotated[int, typer.Option("--top-k", "-k", min=1, help="Results per query.")]
ApproximateOpt = Annotated[bool, typer.Option(
    "--approximate", help="Use the faiss index beside the db (built on first use, rebuilt when the "
    "collection changed); needs clapcli\\[faiss].")]
NprobeOpt = Annotated[int | None, typer.Option(
    "--nprobe", min=1, help="With --approximate: index lists probed per query (more = better recall, "
    "slower). Default: 1/15 of them (recall@10 ~0.95 on clustered data).", show_default=False)]
RebuildIndexOpt = Annotated[bool, typer.Option("--rebuild-index", help="With --approximate: rebuild the index now.")]
TextsOpt = Annotated[list[str] | None, typer.Option("--text", "-t", metavar="QUERY", show_default=False,
                                                    help="A text query; repeatable (as in 'clap embed --text').")]
AsTextOpt = Annotated[bool, typer.Option("--as-text", help="Treat every query as text, even if a file has "
                                         "that name.")]
IncludeSelfOpt = Annotated[bool, typer.Option("--include-self", help="Audio -> audio: keep the query file "
                                              "itself among the hits (left out by default).")]
AllSegmentsOpt = Annotated[bool, typer.Option("--all-segments", help="Segment collections: list every matching "
                                              "window, not only the best one per file.")]
WhereOpt = Annotated[list[str] | None, typer.Option(
    "--where", "-w", metavar="FILTER", show_default=False, help="Library only: search the items for which FILTER "
    "holds; repeatable (all must hold): tag:LABEL>0.5 (scores from 'clap tag'), duration<30 (seconds), "
    "folder:NAME. Operators: >= <= != > < =. Searched exactly.")]
FormatOpt = Annotated[RecordFormat | None, typer.Option(
    "--format", "-f", case_sensitive=False, callback=plain, help="table, csv, json or jsonl. Default: table on a "
    "terminal, csv when piped, else from --output's extension.", show_default=False)]


@with_model_options(exclude=("quantize",))
def retrieve(
    ctx: typer.Context,
    queries: QueriesArg = None,
    db: DbOpt = None,
    collection: CollectionOpt = None,
    embeddings: EmbeddingsOpt = None,
    captions_old: CaptionsOldOpt = None,
    captions: CaptionsOpt = None,
    top_k: TopKOpt = 10,
    approximate: ApproximateOpt = False,
    nprobe: NprobeOpt = None,
    rebuild_index: RebuildIndexOpt = False,
    texts: TextsOpt = None,
    as_text: AsTextOpt = False,
    include_self: IncludeSelfOpt = False,
    all_segments: AllSegmentsOpt = False,
    where: WhereOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    model_options: ModelOptions = FROM_FLAGS,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Search audio (or images) by text or by example, or rank captions, with cosine similarity."""
    from clapcli.console.common import FailureLog
    from clapcli.console.output import Output
    from clapcli.core.retrieve import LazyModel, RetrieveRequest, parse_queries, run_retrieve
    from clapcli.errors import InputError
    from clapcli.io.writers import check_output_path, default_record_format

    captions = _captions_file(captions, captions_old)
    request = RetrieveRequest(db=db, collection=collection, embeddings=embeddings, top_k=top_k,
                              captions=None if captions is None else (), approximate=approximate, nprobe=nprobe,
                              rebuild_index=rebuild_index, include_self=include_self,
                              all_segments=all_segments, where=tuple(where or ())).check()
    if not queries and not texts:
        ctx.fail("Missing argument 'QUERIES...': give texts or media files, or --text QUERY.")  # as the parser says it
    parsed = parse_queries(list(queries or []), as_text) + parse_queries(list(texts or []), True)
    fmt = default_record_format(fmt, output)
    if output is not None:
        check_output_path(output, overwrite)  # fail before loading a model, not after searching
    lazy = LazyModel(lambda name: model_options.with_model(name).load(), model_options.model)
    request = replace(request, queries=parsed, captions=_captions(captions))
    found = run_retrieve(request, lazy)
    if found.failed and not found.results:
        raise InputError(f"{found.failed[0].source}: {found.failed[0].reason}")
    _write(found, "text" if captions is not None else "path", fmt, output, overwrite)
    failures = FailureLog(Output(quiet=True))
    for failure in found.failed:
        failures.add(failure)
    failures.finish(len(found.results), "queries searched", summary=False)


def _captions_file(captions: str | None, captions_old: str | None) -> str | None:
    """--captions-file, or --captions (its 0.1 spelling; one vocabulary: --labels-file, --text-file, ...)."""
    from clapcli.console.output import Output
    from clapcli.errors import UsageError

    if captions_old is None:
        return captions
    if captions is not None:
        raise UsageError("give --captions-file once (--captions is its old spelling)")
    Output().warning("--captions is now --captions-file (like --labels-file and --text-file); the old "
                     "spelling goes in the next release")
    return captions_old


def _captions(path: str | None) -> list[str] | None:
    from clapcli.errors import UsageError
    from clapcli.io.readers import read_text_file

    if path is None:
        return None
    lines = read_text_file(path, "captions")
    if not lines:
        raise UsageError(f"captions file '{path}' has no captions")
    return lines


def _write(found: Any, label: str, fmt: str, output: Path | None, overwrite: bool) -> None:
    """One row per hit; the same columns for one query as for many (and where in the file, for segments)."""
    from clapcli.io.writers import record_writer

    columns = ["query", "rank", "score", label] + (["start", "end"] if found.segments else [])
    with record_writer(fmt, output, overwrite, columns) as sink:
        for result in found.results:
            for row in result.records(label):
                sink.write(row)


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
