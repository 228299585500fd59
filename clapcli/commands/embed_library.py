"""``clap embed --db``: embedding into a library collection (the options are in ``clapcli.console.options``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clapcli.settings import DEFAULT_COLLECTION
from clapcli.text import plural


def library_requested(db: Path | None, collection: str | None, prune: bool) -> bool:
    return db is not None or collection is not None or prune


def embed_to_library(
    inputs: list[str] | None, has_texts: bool, output: Path | None, fmt: str | None, db: Path | None,
    collection: str | None, prune: bool, model_options: Any, batch_size: int | None, workers: int | None,
    quiet: bool, segments: float | None = None, hop: float | None = None,
) -> None:
    """``clap embed ... --db``: add new/changed files to a collection, skip unchanged ones, optionally prune."""
    from clapcli.console.common import FailureLog, collect_sources, count_inputs, kept_on_interrupt
    from clapcli.console.output import Output
    from clapcli.core.library import open_collection
    from clapcli.store import open_store

    _check_library_run(inputs, has_texts, output, fmt, prune)
    out = Output(quiet)
    name = collection or DEFAULT_COLLECTION
    if not inputs:  # --prune alone needs no model
        _prune_only(db, name, out)
        return
    with open_store(db) as store:
        if db is None:  # -c / --prune alone: say which file is written
            out.note(f"no --db given: writing to the default library {store.path}")
        loaded = _collection_model(store, name, model_options).load(count_inputs(inputs), quiet)
        failures = FailureLog(out)
        target = open_collection(store, name, loaded)
        sources = collect_sources(inputs, loaded.modality)
        before = target.count()

        def kept() -> str:
            added = target.count() - before
            were = "was" if added == 1 else "were"
            return (f"{plural(added, 'new embedding')} {were} stored in {store.path} '{name}' "
                    f"({plural(target.count(), 'file')} in it); "
                    "rerun the same command to resume (files already stored are skipped)")

        with kept_on_interrupt(kept), out.progress(len(sources), "embedding") as advance:
            summary = _embed_sources(loaded, sources, target, segments, hop, prune, batch_size, workers, advance,
                                     failures.add)
        total = target.count()
    out.note(f"{store.path} '{name}': {summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged"
             + (f", {len(summary.pruned)} pruned" if prune else "") + f"; {plural(total, 'file')} in the collection")
    failures.finish(summary.added + summary.updated + summary.unchanged, "files in the collection", summary=False)


def _check_library_run(inputs: list[str] | None, has_texts: bool, output: Path | None, fmt: str | None,
                       prune: bool) -> None:
    from clapcli.errors import UsageError

    if has_texts:
        raise UsageError("--db stores embeddings of files; embed --text without --db (texts are queries for "
                         "'clap retrieve')")
    if output is not None or fmt is not None:
        raise UsageError("--db writes into the library; drop --output/--format, or drop --db to write a file")
    if not inputs and not prune:
        raise UsageError("nothing to add: give files, directories, globs or - (paths on stdin) to embed into --db")


def _prune_only(db: Path | None, name: str, out: Any) -> None:
    from clapcli.store import open_store

    with open_store(db, create=False) as store:
        gone = store.collection(name, create=False).prune()
    out.note(f"{store.path} '{name}': {plural(len(gone), 'row')} of missing files pruned")


def _collection_model(store: Any, name: str, model_options: Any) -> Any:
    """An existing collection keeps its model: no --model (nor $CLAPCLI_MODEL) means the one it was built with."""
    from clapcli.settings import default_model

    if model_options.model is None and default_model() is None and name in store.collection_names():
        return model_options.with_model(store.collection(name, create=False).model_id)
    return model_options


def _embed_sources(loaded: Any, sources: list, target: Any, segments: float | None, hop: float | None, prune: bool,
                   batch_size: int | None, workers: int | None, advance: Any, on_failure: Any) -> Any:
    """Whole files (one row each), or with ``segments`` one row per window, with its times."""
    from clapcli.core.library import embed_into_store, embed_segments_into_store

    if segments is not None:
        return embed_segments_into_store(loaded, sources, target, segments, hop, prune, batch_size, workers, advance,
                                         on_failure)
    target.set_segments(None, None)  # refuses a segment collection
    return embed_into_store(loaded, sources, target, prune, batch_size, workers, advance, on_failure)
