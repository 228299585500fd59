"""``clap embed --engine ray`` and ``clap embed --import``: option types and the two runs (thin; the work is in
``clapcli.core.ray_engine`` (job, decode, actor, sink) and ``clapcli.core.shards``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from clapcli.console.options import Engine, plain
from clapcli.console.output import Output, safe
from clapcli.text import plural

ENGINES = ("local", "ray")
SHOWN_FAILURES = 50  # failures named on stderr; all of them are in DIR/_errors/

EmbedOutputOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", help="Write to FILE (format from its extension) instead of stdout. With "
                 "--engine ray: a directory or URI (s3://...) of Parquet shards.", show_default=False),
]
EngineOpt = Annotated[
    Engine, typer.Option("--engine", case_sensitive=False, callback=plain,
                         help="local (this process) or ray (Ray Data on $RAY_ADDRESS, else a local Ray; "
                      "needs clapcli\\[ray]).")
]
NumGpusOpt = Annotated[float, typer.Option("--num-gpus", min=0, help="--engine ray: GPUs per model actor.")]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", min=1, help="--engine ray: model actors (one model load each).")
]
ImportOpt = Annotated[
    str | None,
    typer.Option("--import", help="Load Parquet shards (an --engine ray output DIR, or a .parquet from embed) "
                 "into --db/--collection instead of embedding.", show_default=False),
]


def wants_engine(engine: str, import_dir: str | None) -> bool:
    """True when this module, not the local embed run, handles the command."""
    if engine not in ENGINES:
        from clapcli.errors import UsageError

        raise UsageError(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
    return engine == "ray" or import_dir is not None


def refuse_local_only_options(workers: int | None, prune: bool, import_dir: str | None) -> None:
    """Options of the local engine that would otherwise be ignored silently."""
    from clapcli.errors import UsageError

    step = "--import" if import_dir is not None else "--engine ray"
    if workers is not None:
        raise UsageError(f"--workers sets the local engine's decode threads; {step} does not use them "
                         "(Ray schedules its own decode tasks; --concurrency sets the model actors)")
    if prune:
        raise UsageError(f"--prune works with the local engine only; after {step}, run "
                         "'clap embed --db DB --prune' to drop rows of deleted files")


def run_engine(
    inputs: list[str] | None, has_texts: bool, output: str | None, fmt: str | None, normalize: bool,
    model_options: Any, batch_size: int | None, quiet: bool, overwrite: bool, engine: str, num_gpus: float,
    concurrency: int, import_dir: str | None, db: Path | None, collection: str | None,
) -> None:
    if import_dir is not None:
        _import(import_dir, inputs, has_texts, output, engine, db, collection, quiet)
    else:
        _embed_ray(inputs, has_texts, output, fmt, normalize, model_options, batch_size, quiet, overwrite,
                   num_gpus, concurrency, db, collection)


def _embed_ray(
    inputs: list[str] | None, has_texts: bool, output: str | None, fmt: str | None, normalize: bool,
    model_options: Any, batch_size: int | None, quiet: bool, overwrite: bool, num_gpus: float, concurrency: int,
    db: Path | None, collection: str | None,
) -> None:
    from clapcli.core.ray_engine import ModelSpec, RayOptions, embed_with_ray, require_ray
    from clapcli.errors import UsageError

    if has_texts:
        raise UsageError("--engine ray embeds files; embed --text with the local engine")
    if db is not None or collection is not None:
        raise UsageError("--engine ray writes shards to --output DIR; load them with 'clap embed --import DIR --db'")
    if not inputs or "-" in inputs:
        raise UsageError("--engine ray needs input directories, files or URIs (s3://...) on the command line")
    if output is None:
        raise UsageError("--engine ray writes Parquet shards: give --output DIR (or s3://bucket/prefix)")
    if fmt not in (None, "parquet"):
        raise UsageError(f"--engine ray writes Parquet shards; --format {fmt} is not available with it")
    require_ray()
    out = Output(quiet)
    spec = ModelSpec(model_options.model, model_options.device or "auto", model_options.folded_precision(),
                     model_options.runtime, model_options.long_audio, normalize, batch_size)
    options = RayOptions(concurrency, num_gpus, progress=out.progress_on_terminal)
    summary = embed_with_ray(inputs, output, spec, options, overwrite, name_failures=SHOWN_FAILURES)
    _report_failures(out, summary.failures, summary.failed, output)
    if summary.failed:
        from clapcli.errors import InputError, PartialFailure

        out.summary(f"{plural(summary.written, 'embedding')} written to {output}, [red]{summary.failed} failed[/]")
        if not summary.written:  # nothing was produced: exit 1, as the local engine does
            raise InputError(f"every input failed ({plural(summary.failed, 'input')}, each named above or in "
                             f"{output.rstrip('/')}/_errors/)")
        raise PartialFailure(f"{summary.failed} of {plural(summary.written + summary.failed, 'input')} failed")
    out.note(f"{plural(summary.written, 'embedding')} written to {output}")


def _report_failures(out: Output, shown: list, total: int, output: str) -> None:
    for failure in shown:
        out.failed(failure.source, failure.reason)
    if total > len(shown):
        out.summary(safe(f"... and {total - len(shown)} more failed inputs: see {output.rstrip('/')}/_errors/"))


def _import(
    import_dir: str, inputs: list[str] | None, has_texts: bool, output: str | None, engine: str, db: Path | None,
    collection: str | None, quiet: bool,
) -> None:
    from clapcli.core.shards import import_shards
    from clapcli.errors import UsageError
    from clapcli.settings import DEFAULT_COLLECTION
    from clapcli.store import open_store

    if inputs or has_texts or output is not None or engine != "local":
        raise UsageError("--import loads existing shards into --db; drop the inputs, --text, --output and --engine")
    name = collection or DEFAULT_COLLECTION
    out = Output(quiet)
    with open_store(db) as store:
        with out.progress(None, "importing") as advance:
            summary = import_shards(import_dir, store, name, on_progress=advance)
    skipped = f" ({plural(summary.skipped_texts, 'text row')} skipped)" if summary.skipped_texts else ""
    shards = plural(summary.shards, "shard")
    out.note(f"{store.path} '{name}': {plural(summary.imported, 'row')} imported from {shards}{skipped}; "
             f"{plural(summary.total, 'file')} in the collection")
