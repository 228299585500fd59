"""``clap embed --db``: add files to a library collection, incrementally.

A file is embedded only when its content hash differs from the stored one (or it is new); rows are
committed every ``commit_rows`` embeddings, so an interrupted run loses at most that batch and the
next run picks up where it stopped. ``prune`` drops rows whose file no longer exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clapcli.core.pipeline import Source, encode_stream
from clapcli.errors import InputError, InvalidField
from clapcli.models.base import EmbeddingModel
from clapcli.results import FailedInput
from clapcli.store import Collection, EmbeddingStore, ItemRow, content_hash

COMMIT_ROWS = 32


@dataclass
class LibrarySummary:
    """What one ``embed --db`` run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    pruned: list[str] = field(default_factory=list)
    failed: list[FailedInput] = field(default_factory=list)


def open_collection(store: EmbeddingStore, name: str, model: EmbeddingModel) -> Collection:
    """The collection for ``model``: created on first use, refused if built with another model."""
    return store.collection(name, model.model_id, model.embedding_dim)


def embed_into_store(
    model: EmbeddingModel, sources: Iterable[Source], collection: Collection, prune: bool = False,
    batch_size: int | None = None, workers: int | None = None,
    on_progress: Callable[[float], None] | None = None, on_failure: Callable[[FailedInput], None] | None = None,
    commit_rows: int = COMMIT_ROWS,
) -> LibrarySummary:
    """Embed new or changed files into ``collection``; unchanged ones are skipped by content hash."""
    summary = LibrarySummary()
    known = collection.hashes()
    hashes: dict[str, str] = {}
    pending: list[ItemRow] = []
    advance = on_progress or (lambda n: None)

    def commit() -> None:
        collection.upsert(pending)
        for row in pending:
            if row.path in known:
                summary.updated += 1
            else:
                summary.added += 1
        pending.clear()

    todo = _changed(sources, known, hashes, summary, advance)
    try:
        for result in encode_stream(todo, model, batch_size, workers, advance):
            if isinstance(result, FailedInput):
                summary.failed.append(result)
                if on_failure is not None:
                    on_failure(result)
                continue
            pending.append(ItemRow(result.source, hashes[result.source], result.vector, result.duration))
            if len(pending) >= commit_rows:
                commit()
    finally:
        if pending:  # also on Ctrl-C: keep what was already computed
            commit()
    if prune:
        summary.pruned = collection.prune()
    return summary


def _changed(
    sources: Iterable[Source], known: dict[str, str], hashes: dict[str, str], summary: LibrarySummary,
    advance: Callable[[float], None],
) -> Iterator[Source]:
    """Absolute paths of new or changed files (hashing as we go); failures pass through."""
    for source in sources:
        if not isinstance(source, Path):
            yield source
            continue
        path = os.path.abspath(source)  # the same file from another directory is the same row
        try:
            digest = content_hash(path)
        except InputError as exc:
            yield FailedInput(str(source), str(exc).removeprefix(f"{path}: "))
            continue
        if known.get(path) == digest:
            summary.unchanged += 1
            advance(1)
            continue
        hashes[path] = digest
        yield Path(path)


def check_segments(segments: float | None, hop: float | None, into_library: bool) -> None:
    """``segments`` (a window length) and ``hop`` make a segment collection: they need a library (``db``),
    and ``hop`` needs ``segments``."""
    if (segments is not None or hop is not None) and not into_library:
        raise InvalidField("segments", "{segments}/{hop} store one vector per window in a library; add {db} LIBRARY")
    if hop is not None and segments is None:
        raise InvalidField("hop", "{hop} needs {segments} SECONDS (the window length)")


def embed_segments_into_store(
    model: EmbeddingModel, sources: Iterable[Source], collection: Collection, segment: float,
    hop: float | None = None, prune: bool = False, batch_size: int | None = None, workers: int | None = None,
    on_progress: Callable[[float], None] | None = None, on_failure: Callable[[FailedInput], None] | None = None,
) -> LibrarySummary:
    """One row per window (``segment`` seconds every ``hop``, default ``segment``) of each new or
    changed file, with its start and end; a file's windows replace its old ones in one transaction,
    so an interrupted run keeps every file it finished and the next run goes on from there."""
    from clapcli.core.windows import WindowSpec, window_embeddings

    hop = segment if hop is None else hop
    WindowSpec(segment, hop, ("segments", "hop")).samples(model)  # bad values fail before any change
    collection.set_segments(segment, hop)
    summary = LibrarySummary()
    known = collection.source_hashes()
    hashes: dict[str, str] = {}
    todo = _changed(sources, known, hashes, summary, on_progress or (lambda n: None))
    spec = WindowSpec(segment, hop, ("segments", "hop"))
    for result in window_embeddings(model, todo, spec, batch_size, workers, on_progress):
        if isinstance(result, FailedInput):
            summary.failed.append(result)
            if on_failure is not None:
                on_failure(result)
            continue
        windows = list(zip(result.starts.tolist(), result.ends.tolist(), result.rows))
        collection.replace_segments(result.source, hashes[result.source], result.duration, windows)
        if result.source in known:
            summary.updated += 1
        else:
            summary.added += 1
    if prune:
        summary.pruned = collection.prune()
    return summary
