"""``clap embed``: embeddings for audio (or image) files and texts, to a file or stdout."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clapcli.commands.ray_embed import ConcurrencyOpt, EmbedOutputOpt, EngineOpt, ImportOpt, NumGpusOpt
from clapcli.console.options import (
    FROM_FLAGS,
    BatchSizeOpt,
    CollectionOpt,
    DbOpt,
    EmbeddingFormat,
    InputsArg,
    OverwriteOpt,
    PruneOpt,
    QuietOpt,
    WorkersOpt,
    plain,
    with_model_options,
)

if TYPE_CHECKING:
    from clapcli.console.common import ModelOptions

EPILOG = """\
Examples:

  clap embed sounds/ --output sounds.npy        # also .parquet .jsonl .csv .json .safetensors

  clap embed --text "a dog barking" --text "rain on a roof" --output text.jsonl

  find . -name '*.wav' | clap embed - --format jsonl > sounds.jsonl

  clap embed ~/samples --db library.db --collection drums   # add/update a library for 'clap retrieve'

  clap embed photos/ --model altclip --output photos.parquet   # image-text models embed images

  clap embed s3://bucket/audio/ --engine ray --output out/   # Ray Data ($RAY_ADDRESS, else local Ray)

  clap embed --import out/ --db library.db                  # load those Parquet shards into a library

  clap embed ~/field --db lib.db --segments 10 --hop 5      # one vector per window, with times

Rows keep the input path (or text), duration and model id; .npy gets a FILE.npy.rows.csv beside it
mapping row numbers to inputs. Embeddings are L2-normalized unless --no-normalize.
Exit codes: 0 ok, 1 error, 2 usage, 3 some inputs failed (the rest are written).
"""


TextOpt = Annotated[list[str] | None, typer.Option("--text", "-t", help="A text to embed; repeatable.",
                                                  show_default=False)]
TextFileOpt = Annotated[str | None, typer.Option("--text-file", help="Texts to embed, one per line (- for stdin).",
                                                 show_default=False)]
FormatOpt = Annotated[EmbeddingFormat | None, typer.Option(
    "--format", "-f", case_sensitive=False, callback=plain, help="jsonl, json, csv, npy, parquet or safetensors. "
    "Default: from --output's extension, else jsonl.", show_default=False)]
NormalizeOpt = Annotated[bool, typer.Option("--normalize/--no-normalize", help="L2-normalize embeddings.")]
SegmentsOpt = Annotated[float | None, typer.Option("--segments", help="With --db: one vector per window of this many "
                                                   "seconds, with its start and end (a segment collection).",
                                                   show_default=False)]
HopOpt = Annotated[float | None, typer.Option("--hop", help="With --segments: seconds between window starts. "
                                              "Default: --segments.", show_default=False)]


@with_model_options()
def embed(
    inputs: InputsArg = None,
    text: TextOpt = None,
    text_file: TextFileOpt = None,
    output: EmbedOutputOpt = None,
    fmt: FormatOpt = None,
    normalize: NormalizeOpt = True,
    model_options: ModelOptions = FROM_FLAGS,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
    db: DbOpt = None,
    collection: CollectionOpt = None,
    prune: PruneOpt = False,
    engine: EngineOpt = "local",
    num_gpus: NumGpusOpt = 0.0,
    concurrency: ConcurrencyOpt = 1,
    import_dir: ImportOpt = None,
    segments: SegmentsOpt = None,
    hop: HopOpt = None,
) -> None:
    """Embed audio/image files and/or texts with a contrastive model."""
    from clapcli.commands.embed_library import embed_to_library, library_requested
    from clapcli.commands.ray_embed import refuse_local_only_options, run_engine, wants_engine
    from clapcli.core.library import check_segments

    if wants_engine(engine, import_dir):  # a Ray Data job, or loading its shards into --db
        refuse_local_only_options(workers, prune, import_dir)
        run_engine(inputs, bool(text or text_file), output, fmt, normalize, model_options, batch_size, quiet,
                   overwrite, engine, num_gpus, concurrency, import_dir, db, collection)
        return
    path = Path(output) if output is not None else None
    check_segments(segments, hop, db is not None)
    if library_requested(db, collection, prune):  # into the library (clap retrieve) instead of a file
        embed_to_library(inputs, bool(text or text_file), path, fmt, db, collection, prune, model_options, batch_size,
                         workers, quiet, segments=segments, hop=hop)
        return
    texts = _texts(inputs, text, text_file)
    _embed_to_file(inputs or [], texts, path, fmt, normalize, model_options, batch_size, workers, quiet, overwrite)


def _texts(inputs: list[str] | None, text: list[str] | None, text_file: str | None) -> list[str]:
    """--text, then the lines of --text-file; refused when there is nothing at all to embed."""
    from clapcli.errors import UsageError
    from clapcli.io.readers import read_text_file

    texts = list(text or []) + (read_text_file(text_file, "text") if text_file else [])
    if not inputs and not texts:
        raise UsageError("nothing to embed: give input files/directories/- or --text/--text-file")
    if inputs and text_file == "-" and "-" in inputs:
        raise UsageError("stdin can feed either paths (-) or --text-file -, not both")
    return texts


def _embed_to_file(inputs: list[str], texts: list[str], output: Path | None, fmt: str | None, normalize: bool,
                   model_options: ModelOptions, batch_size: int | None, workers: int | None, quiet: bool,
                   overwrite: bool) -> None:
    """Texts first, then the files, one row each, to --output (or stdout); what was computed is written even on
    Ctrl-C / SIGTERM."""
    from clapcli.console.common import FailureLog, collect_sources, count_inputs, kept_on_interrupt, kept_rows
    from clapcli.console.output import Output
    from clapcli.core.embed import embed_media, embed_texts
    from clapcli.io.writers import EMBEDDING_FORMATS, embedding_writer, format_from_path
    from clapcli.results import FailedInput

    writer = embedding_writer(format_from_path(output, fmt, EMBEDDING_FORMATS, "jsonl"), output, overwrite)
    loaded = model_options.load(count_inputs(inputs) if inputs else 0, quiet)
    out = Output(quiet)
    failures = FailureLog(out)
    done = 0
    sources: list = []
    with kept_on_interrupt(lambda: kept_rows(writer, len(texts) + len(sources), "embeddings")), writer:
        for row in embed_texts(loaded, texts, normalize):
            writer.write(row)
            done += 1
        sources = collect_sources(inputs, loaded.modality)
        with out.progress(len(sources), "embedding") as advance:
            for result in embed_media(loaded, sources, normalize, batch_size, workers, advance):
                if isinstance(result, FailedInput):
                    failures.add(result)
                    writer.write_failure(result.source, result.reason)
                    continue
                writer.write(result)
                done += 1
    failures.finish(done, "embeddings written")


def register(app: typer.Typer) -> None:
    app.command("embed", epilog=EPILOG)(embed)
