"""``clap retrieve``: text -> audio, audio -> audio and audio -> text search.

A query is an audio file when it names an existing file, otherwise a text. Targets are a library
collection (``--db``/``--collection``), an ``embed`` output file (``--embeddings``) or a captions
file (``--captions``, embedded once per run). The model is the collection's (or the file's) unless
one is given, and a different one is refused, since vectors of two models are not comparable.

One piece (~400 lines): the four targets (library, embeddings file, captions, faiss index) share the
query parsing, the same-model check and the grouping of hits, which would otherwise be repeated.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from clapcli.core.search import (
    Hit,
    exact_top_k,
    hits_from,
    load_or_build_index,
    search_index,
)
from clapcli.core.text import l2_normalize
from clapcli.errors import InputError, InvalidField, UsageError
from clapcli.media.kinds import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from clapcli.models.base import EmbeddingModel
from clapcli.results import FailedInput
from clapcli.settings import DEFAULT_COLLECTION
from clapcli.store import Collection, content_hash

ModelLoader = Callable[[str | None], EmbeddingModel]


@dataclass(frozen=True)
class Query:
    raw: str  # as the user gave it
    kind: str  # "text" or "media"

    @property
    def path(self) -> Path:
        return Path(self.raw).expanduser()


@dataclass
class QueryResult:
    query: Query
    hits: list[Hit]

    def records(self, found: str = "path") -> list[dict]:
        """The rows ``clap retrieve -f json`` writes for this query; ``found`` names what a hit is (``path``
        for files, ``caption`` for captions)."""
        rows = []
        for hit in self.hits:
            row: dict = {"query": self.query.raw, "rank": hit.rank, "score": hit.score, found: hit.target}
            if hit.start is not None and hit.end is not None:
                row.update(start=round(hit.start, 3), end=round(hit.end, 3))
            rows.append(row)
        return rows


def parse_queries(raw: Sequence[str], force_text: bool = False) -> list[Query]:
    """Existing files are media queries; a missing file with a media extension is an error, not a text."""
    queries = []
    for value in raw:
        if not value.strip():
            raise UsageError("an empty query was given; write a description or name an audio file")
        path = Path(value).expanduser()
        if force_text:
            queries.append(Query(value, "text"))
        elif path.is_file():
            queries.append(Query(value, "media"))
        elif path.suffix.lower() in AUDIO_EXTENSIONS | IMAGE_EXTENSIONS and " " not in value:
            raise InvalidField("text", "query '{value}' looks like a file but does not exist; give it as "
                               "{text} '{value}' to search it as text", value=value)
        else:
            queries.append(Query(value, "text"))
    return queries


class LazyModel:
    """Loads the model at most once, and only if some query has to be embedded."""

    def __init__(self, loader: ModelLoader, name: str | None) -> None:
        self.loader = loader
        self.name = name
        self._model: EmbeddingModel | None = None

    @classmethod
    def of(cls, model: EmbeddingModel | str | None, loader: ModelLoader | None = None) -> LazyModel:
        """From an already loaded model, or a model name loaded on first use."""
        if isinstance(model, EmbeddingModel):
            lazy = cls(lambda name: model, model.model_id)
            lazy._model = model
            return lazy
        if loader is None:
            from clapcli.models.loading import load_embedding_model

            loader = load_embedding_model
        return cls(loader, model)

    def get(self) -> EmbeddingModel:
        if self._model is None:
            self._model = self.loader(self.name)
        return self._model


def check_same_model(model: EmbeddingModel, expected: str, dim: int | None, where: str,
                     field: str | None = None) -> None:
    """``InvalidField`` (``model``) unless ``model`` made the target ``where`` (after ``field``'s name if given)."""
    if model.model_id != expected or (dim is not None and model.embedding_dim != dim):
        raise InvalidField(
            "model", (f"{{{field}}} " if field else "") + "{where} holds embeddings from model '{expected}'{dims}, "
            "not '{found}' ({found_dim}-d); pass {model} {expected} or search a target built with this model",
            where=where, expected=expected, dims=f" ({dim}-d)" if dim is not None else "", found=model.model_id,
            found_dim=model.embedding_dim,
        )


def embed_queries(
    queries: Sequence[Query], model: LazyModel, stored: Callable[[Query], np.ndarray | None] | None = None,
    batch_size: int | None = None, workers: int | None = None,
) -> tuple[list[tuple[Query, np.ndarray]], list[FailedInput]]:
    """Unit vectors for each query (a stored vector is reused for a library file whose hash matches)."""
    from clapcli.core.pipeline import encode_pairs
    from clapcli.core.text import encode_texts

    vectors: dict[int, np.ndarray] = {}
    failed: list[FailedInput] = []
    media = []
    for index, query in enumerate(queries):
        found = stored(query) if stored is not None and query.kind == "media" else None
        if found is not None:
            vectors[index] = found
        elif query.kind == "media":
            media.append(index)
    texts = [i for i, q in enumerate(queries) if q.kind == "text"]
    if texts:
        for index, vector in zip(texts, encode_texts(model.get(), [queries[i].raw for i in texts]), strict=True):
            vectors[index] = vector
    if media:
        sources = [Path(queries[i].path) for i in media]  # one object per query, even for a repeated file
        index_of = {id(source): index for source, index in zip(sources, media, strict=True)}
        for source, result in encode_pairs(sources, model.get(), batch_size, workers):
            index = index_of[id(source)]
            if isinstance(result, FailedInput):
                failed.append(FailedInput(queries[index].raw, result.reason))
            else:
                vectors[index] = result.vector
    embedded = [(q, l2_normalize(vectors[i])[0]) for i, q in enumerate(queries) if i in vectors]
    return embedded, failed


def stored_vector(collection: Collection) -> Callable[[Query], np.ndarray | None]:
    """Look-up of a query file already in the collection with the same content."""
    def lookup(query: Query) -> np.ndarray | None:
        path = os.path.abspath(query.path)
        try:
            if collection.hashes_for([path]).get(path) != content_hash(path):
                return None
        except InputError:
            return None
        return collection.vector_for(path)

    return lookup


# A segment collection keeps the best window per file: this many times k windows are ranked first.
SEGMENT_WIDEN = 20


def search_collection(
    collection: Collection, vectors: np.ndarray, k: int, approximate: bool = False,
    nprobe: int | None = None, rebuild: bool = False, all_segments: bool = False,
    allowed: set[int] | None = None,
) -> list[list[Hit]]:
    """Top-k rows of the collection for each query vector (exact unless ``approximate``). In a segment
    collection hits name the file with the window's start and end, and only the best window of each
    file is kept unless ``all_segments``. ``allowed`` (item ids, from ``--where``) limits the rows searched."""
    if collection.segments() is None:
        return _search_rows(collection, vectors, k, approximate, nprobe, rebuild, allowed)
    wide = k if all_segments else k * SEGMENT_WIDEN
    found = _search_rows(collection, vectors, wide, approximate, nprobe, rebuild, allowed)
    return [_segment_hits(collection, hits, k, all_segments) for hits in found]


def _segment_hits(collection: Collection, hits: list[Hit], k: int, all_segments: bool) -> list[Hit]:
    times = collection.times([h.id for h in hits if h.id is not None])
    kept: list[Hit] = []
    seen: set[str] = set()
    for hit in hits:
        source, start, end = times.get(hit.id, (hit.target, None, None))  # type: ignore[arg-type]
        if not all_segments and source in seen:
            continue
        seen.add(source)
        kept.append(Hit(len(kept) + 1, hit.score, source, hit.id, start, end))
        if len(kept) == k:
            break
    return kept


def _search_rows(
    collection: Collection, vectors: np.ndarray, k: int, approximate: bool = False,
    nprobe: int | None = None, rebuild: bool = False, allowed: set[int] | None = None,
) -> list[list[Hit]]:
    if approximate:
        index = load_or_build_index(collection, rebuild=rebuild)
        scores, ids = search_index(index, vectors, k, nprobe)
        paths = collection.paths([i for i in ids.reshape(-1).tolist() if i >= 0])
        return [_index_hits(s, i, paths) for s, i in zip(scores, ids, strict=True)]
    stored = collection.load_matrix()
    if allowed is not None:  # --where: exact search over the matching rows only
        keep = np.isin(stored.ids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
        stored = replace(stored, ids=stored.ids[keep], vectors=np.ascontiguousarray(stored.vectors[keep]))
    scores, rows = exact_top_k(stored.vectors, vectors, k)
    paths = collection.paths(stored.ids[rows.reshape(-1)].tolist())
    return [hits_from(s, r, ids=stored.ids, paths=paths) for s, r in zip(scores, rows, strict=True)]


def _index_hits(scores: np.ndarray, ids: np.ndarray, paths: dict[int, str]) -> list[Hit]:
    kept = [(float(s), int(i)) for s, i in zip(scores.tolist(), ids.tolist(), strict=True) if i >= 0]  # -1: padding
    return [Hit(rank, s, paths.get(i, ""), i) for rank, (s, i) in enumerate(kept, start=1)]


def search_labels(labels: list[str], matrix: np.ndarray, vectors: np.ndarray, k: int) -> list[list[Hit]]:
    """Top-k labels (file paths or captions) of an in-memory matrix for each query vector."""
    if matrix.shape[0] and matrix.shape[1] != vectors.shape[1]:
        raise InvalidField("model", f"the target holds {matrix.shape[1]}-d embeddings but the query is "
                           f"{vectors.shape[1]}-d; use the model that made them ({{model}})")
    scores, rows = exact_top_k(l2_normalize(matrix), vectors, k)
    return [hits_from(s, r, labels=labels) for s, r in zip(scores, rows, strict=True)]


def search_captions(
    parsed: Sequence[Query], lines: list[str], lazy: LazyModel, top_k: int,
) -> tuple[list[QueryResult], list[FailedInput]]:
    """Audio -> text: rank ``lines`` for each media query; the captions are embedded once."""
    from clapcli.core.text import encode_texts

    texts = [q.raw for q in parsed if q.kind == "text"]
    if texts:
        raise InvalidField("captions", "{captions} ranks captions for audio files; '{query}' is not an existing file",
                           query=texts[0])
    if not lines:
        raise UsageError("the captions file has no captions")
    matrix = encode_texts(lazy.get(), lines)  # once per run, whatever the number of queries
    embedded, failed = embed_queries(parsed, lazy)
    found = search_labels(lines, matrix, _stack(embedded, matrix.shape[1]), top_k)
    return [QueryResult(q, hits) for (q, _), hits in zip(embedded, found, strict=True)], failed


def search_file(
    parsed: Sequence[Query], path: Path, lazy: LazyModel, top_k: int,
) -> tuple[list[QueryResult], list[FailedInput]]:
    """Search the rows of a ``clap embed`` output file, with the model that wrote it."""
    from clapcli.store.files import load_embedding_file

    table = load_embedding_file(path)
    if len(table.models) > 1:
        raise InvalidField("embeddings", "{embeddings} {path} mixes models ({models}); search a file made with one "
                           "model", path=path, models=", ".join(sorted(table.models)))
    if lazy.name is None and table.models:
        lazy.name = next(iter(table.models))
    if table.models:
        check_same_model(lazy.get(), next(iter(table.models)), None, str(path), "embeddings")
    embedded, failed = embed_queries(parsed, lazy)
    found = search_labels(table.labels, table.vectors, _stack(embedded, lazy.get().embedding_dim), top_k)
    return [QueryResult(q, hits) for (q, _), hits in zip(embedded, found, strict=True)], failed


def search_library(
    parsed: Sequence[Query], db: Path | None, name: str, lazy: LazyModel, top_k: int, approximate: bool = False,
    nprobe: int | None = None, rebuild: bool = False, all_segments: bool = False, where: Sequence[str] = (),
) -> tuple[list[QueryResult], list[FailedInput]]:
    """Search a library collection with its own model (an explicit, different one is refused)."""
    from clapcli.store import open_store

    with open_store(db, readonly=True) as store:  # searching never changes the library
        target = store.collection(name, create=False)
        allowed = None
        if where:
            from clapcli.core.filters import collection_filter, parse_where

            allowed = collection_filter(target, parse_where(where))
        if lazy.name is not None:  # an explicit --model must be the collection's
            check_same_model(lazy.get(), target.model_id, target.dim, f"collection '{name}' in {store.path}")
        else:
            lazy.name = target.model_id
        embedded, failed = embed_queries(parsed, lazy, stored_vector(target))
        found = search_collection(target, _stack(embedded, target.dim), top_k, approximate, nprobe, rebuild,
                                  all_segments, allowed)
    return [QueryResult(q, hits) for (q, _), hits in zip(embedded, found, strict=True)], failed


def _stack(embedded: list[tuple[Query, np.ndarray]], dim: int) -> np.ndarray:
    return np.stack([v for _, v in embedded]) if embedded else np.zeros((0, dim), np.float32)


@dataclass(frozen=True)
class RetrieveRequest:
    """One search: ``queries`` against ``captions`` (audio -> text) if given, else the ``embeddings`` file if
    given, else the library collection (``db``, default ``clapcli.store.default_db_path()``; ``collection``).
    ``check`` refuses contradictory fields (``InvalidField``, naming them)."""

    queries: Sequence[Query] = field(default_factory=list)
    db: Path | None = None
    collection: str | None = None
    embeddings: Path | None = None
    captions: Sequence[str] | None = None
    top_k: int = 10
    approximate: bool = False
    nprobe: int | None = None
    rebuild_index: bool = False
    include_self: bool = False
    all_segments: bool = False
    where: Sequence[str] = ()  # filters of library items (``core.filters``), all of which must hold

    def check(self) -> RetrieveRequest:
        files = self.captions is not None or self.embeddings is not None
        if self.captions is not None and self.embeddings is not None:
            raise InvalidField("captions", "{captions} and {embeddings} are two different targets; give one")
        if files and (self.db is not None or self.collection is not None):
            raise InvalidField("db", "{db}/{collection} search the library; drop them with {captions} or {embeddings}")
        if (self.nprobe is not None or self.rebuild_index) and not self.approximate:
            raise InvalidField("nprobe", "{nprobe} and {rebuild_index} go with {approximate}")
        if self.approximate and files:
            raise InvalidField("approximate", "{approximate} searches a library collection ({db}); files and "
                               "captions are searched exactly")
        if self.where:
            from clapcli.core.filters import parse_where

            parse_where(self.where)  # a bad expression fails before any model loads
            if files:
                raise InvalidField("where", "{where} filters the items of a library ({db}), not files or captions")
            if self.approximate:
                raise InvalidField("where", "{where} searches the matching items exactly; drop {approximate}")
        if self.top_k < 1:
            raise InvalidField("top_k", "must be >= 1")
        if self.nprobe is not None and self.nprobe < 1:
            raise InvalidField("nprobe", "must be >= 1")
        return self


@dataclass(frozen=True)
class Retrieved:
    """What a search found: one result per usable query, the queries that failed, and whether the hits are
    windows of files (a segment collection: each hit has a start and an end)."""

    results: list[QueryResult]
    failed: list[FailedInput]
    segments: bool


def run_retrieve(request: RetrieveRequest, lazy: LazyModel) -> Retrieved:
    """Search ``request``'s target; an audio query's own file is left out of its hits unless ``include_self``."""
    parsed, k = request.queries, request.top_k
    room = room_for_self(parsed, request.include_self or request.captions is not None)
    if request.captions is not None:
        results, failed = search_captions(parsed, list(request.captions), lazy, k)
    elif request.embeddings is not None:
        results, failed = search_file(parsed, request.embeddings, lazy, k + room)
    else:
        results, failed = search_library(parsed, request.db, request.collection or DEFAULT_COLLECTION, lazy, k + room,
                                         request.approximate, request.nprobe, request.rebuild_index,
                                         request.all_segments, request.where)
    segments = any(hit.start is not None for result in results for hit in result.hits)
    if room:  # room was made for the query itself; leave it out
        results = [without_self(result, k) for result in results]
    return Retrieved(results, failed, segments)


def retrieve(
    queries: Sequence[str], *, model: EmbeddingModel | str | None = None, db: str | Path | None = None,
    collection: str = DEFAULT_COLLECTION, embeddings: str | Path | None = None, captions: Sequence[str] | None = None,
    k: int = 10, approximate: bool = False, as_text: bool = False, include_self: bool = False,
    skip_failures: bool = False,
) -> list[QueryResult]:
    """The library form of ``clap retrieve``: one ``QueryResult`` (best hits first) per query.

    Searches ``captions`` if given, else the ``embeddings`` file if given, else the library ``db``
    (default ``clapcli.store.default_db_path()``). An audio query's own file is left out of its hits unless
    ``include_self``. Raises ``InputError`` for an unusable audio query unless ``skip_failures``, and
    ``InvalidField`` for contradictory arguments (``k`` is the request's ``top_k``)."""
    request = RetrieveRequest(
        parse_queries(queries, as_text), db=None if db is None else Path(db),
        collection=None if collection == DEFAULT_COLLECTION else collection,
        embeddings=None if embeddings is None else Path(embeddings), captions=captions, top_k=k,
        approximate=approximate, include_self=include_self,
    ).check()
    found = run_retrieve(request, LazyModel.of(model))
    if found.failed and not skip_failures:
        raise InputError(f"{found.failed[0].source}: {found.failed[0].reason}")
    return found.results


def room_for_self(parsed: Sequence[Query], include_self: bool) -> int:
    """One more hit to ask for when a media query's own file may be among them (and is to be left out)."""
    return 0 if include_self or all(q.kind == "text" for q in parsed) else 1


def without_self(result: QueryResult, top_k: int) -> QueryResult:
    """The hits of a media query without the query file itself, ranked again, at most ``top_k``."""
    import dataclasses
    import os

    if result.query.kind == "text":
        return dataclasses.replace(result, hits=result.hits[:top_k])
    itself = os.path.realpath(result.query.path)
    hits = [hit for hit in result.hits if os.path.realpath(os.path.expanduser(hit.target)) != itself][:top_k]
    hits = [dataclasses.replace(hit, rank=rank) for rank, hit in enumerate(hits, start=1)]
    return dataclasses.replace(result, hits=hits)
