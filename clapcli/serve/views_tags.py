"""The page's tags view and the search filters: the tags ``clap tag`` stored in the library (schema v3,
``store.tags``), and ``clap retrieve``'s ``--where`` conditions on searches (``core.filters``).

Tags are read from the library (opened read-only) when asked for, not kept in the snapshots: ``clap tag``
writes them without changing a collection's version. A filtered search searches, exactly, a copy of the
snapshot holding only the matching rows (``clap retrieve --where`` searches the matching rows exactly
too); the copies are kept in a small LRU keyed by the collection's version, the library file's state and
the conditions, so paging through a filtered search filters once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import numpy as np
from fastapi import Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from clapcli.serve.hits import HitOut, TooMuchWork
from clapcli.serve.library import LibraryState, Snapshot, disk_signature

MAX_CONDITIONS = 8  # --where conditions per search
MAX_TAG_ITEMS = 1000  # items per page of a tag's list
FILTERED_ENTRIES = 4  # filtered snapshots kept (each holds a copy of its matching rows' vectors)


def tag_hint(db: Path) -> str:
    return f"no tags in this collection yet: run 'clap tag --db {db} --labels-file tags.txt' (one label a line)"


class TagCountOut(BaseModel):
    label: str
    top: int  # items whose best-scoring tag this is (as 'clap library info' counts)


class TagsOut(BaseModel):
    collection: str
    items: int  # rows of the collection
    tagged: int  # rows with scores
    template: str | None = None
    model: str | None = None  # the model that scored them
    labels: list[TagCountOut]
    hint: str | None = None  # set when the collection has no tags


def _collection(db: Path, name: str) -> Any:
    from clapcli.store import open_store

    store = open_store(db, readonly=True)
    try:
        return store, store.collection(name, create=False)
    except BaseException:
        store.close()
        raise


def read_tags(db: Path, snap: Snapshot) -> TagsOut:
    from clapcli.store.tags import tag_set, tagged_count, top_tag_counts

    store, collection = _collection(db, snap.name)
    with store:
        found = tag_set(collection)
        if found is None:
            return TagsOut(collection=snap.name, items=snap.count, tagged=0, labels=[], hint=tag_hint(db))
        counts = top_tag_counts(collection)
        return TagsOut(collection=snap.name, items=snap.count, tagged=tagged_count(collection),
                       template=found.template, model=found.model_id,
                       labels=[TagCountOut(label=label, top=counts.get(label, 0)) for label in found.labels])


def tag_scores(db: Path, name: str, label: str) -> dict[int, float]:
    """item id -> score of ``label``; ``LookupError`` (404) naming the tags when the label is not one."""
    from clapcli.store.tags import scores_for, tag_set

    store, collection = _collection(db, name)
    with store:
        found = tag_set(collection)
        if found is None:
            raise LookupError(tag_hint(db))
        if label not in found.labels:
            raise LookupError(f"collection '{name}' has no tag '{label}' (its tags: {', '.join(found.labels)})")
        return scores_for(collection, label)


def top_tags(db: Path, name: str, ids: np.ndarray) -> list[str] | None:
    """The best-scoring tag of each of ``ids`` ("untagged" for an item without scores), or None when the
    collection has no tags."""
    from clapcli.store.tags import scores_for, tag_set

    store, collection = _collection(db, name)
    with store:
        found = tag_set(collection)
        if found is None:
            return None
        best = np.full(len(ids), -np.inf)
        label_of = np.full(len(ids), -1)
        position = {int(item): row for row, item in enumerate(ids.tolist())}
        for number, label in enumerate(found.labels):
            for item, score in scores_for(collection, label).items():
                row = position.get(item)
                if row is not None and score > best[row]:
                    best[row], label_of[row] = score, number
    return [found.labels[n] if n >= 0 else "untagged" for n in label_of.tolist()]


class Filters:
    """Snapshots restricted to the rows matching ``where`` conditions, kept in a small LRU."""

    def __init__(self, library: LibraryState, entries: int = FILTERED_ENTRIES) -> None:
        self.library = library
        self.entries = entries
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple, Snapshot] = OrderedDict()

    async def restrict(self, snap: Snapshot, where: list[str]) -> Snapshot:
        """``snap`` itself without conditions; else its matching rows (exact search, no index)."""
        from clapcli.core.filters import parse_where

        if not where:
            return snap
        if len(where) > MAX_CONDITIONS:
            raise TooMuchWork(f"{len(where)} where conditions in one request; send at most {MAX_CONDITIONS}")
        conditions = parse_where(where)  # 400 naming the expression before anything is read
        key = (snap.name, snap.version, disk_signature(self.library.db), tuple(c.text.strip() for c in conditions))
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        restricted = await run_in_threadpool(self._restrict, snap, conditions)
        with self._lock:
            self._kept[key] = restricted
            while len(self._kept) > self.entries:
                self._kept.popitem(last=False)
        return restricted

    def _restrict(self, snap: Snapshot, conditions: list) -> Snapshot:
        from clapcli.core.filters import collection_filter

        store, collection = _collection(self.library.db, snap.name)
        with store:
            allowed = collection_filter(collection, conditions)
        keep = np.isin(snap.ids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
        ids = snap.ids[keep]
        return replace(snap, ids=ids, vectors=np.ascontiguousarray(snap.vectors[keep]), index=None,
                       row_of={int(i): row for row, i in enumerate(ids.tolist())})


class TagItemsOut(BaseModel):
    collection: str
    label: str
    min: float
    total: int  # items scoring at least ``min`` (hits holds one page of them, best first)
    hits: list[HitOut]


def add_tag_routes(app: Any, library: LibraryState, default_collection: str) -> None:
    @app.get("/api/tags", response_model=TagsOut, summary="The collection's tags ('clap tag') with counts")
    async def tags(collection: str | None = None) -> TagsOut:
        snap = library.snapshot(collection or default_collection)
        return await run_in_threadpool(read_tags, library.db, snap)

    @app.get("/api/tags/items", response_model=TagItemsOut, summary="Items whose score for a tag is at least min")
    async def tag_items(label: Annotated[str, Query(min_length=1, max_length=1000, description="The tag")],
                        collection: str | None = None,
                        min: Annotated[float, Query(ge=0.0, le=1.0, description="Lowest score listed")] = 0.5,
                        offset: Annotated[int, Query(ge=0)] = 0,
                        k: Annotated[int, Query(ge=1, le=MAX_TAG_ITEMS)] = 20) -> TagItemsOut:
        snap = library.snapshot(collection or default_collection)
        scores = await run_in_threadpool(tag_scores, library.db, snap.name, label)
        ranked = sorted(((s, i) for i, s in scores.items() if s >= min and i in snap.items),
                        key=lambda pair: (-pair[0], pair[1]))  # best first, then by id: a stable page
        hits = [hit_of(snap, rank, score, item)
                for rank, (score, item) in enumerate(ranked[offset : offset + k], start=offset + 1)]
        return TagItemsOut(collection=snap.name, label=label, min=min, total=len(ranked), hits=hits)


def hit_of(snap: Snapshot, rank: int, score: float, item_id: int) -> HitOut:
    """A row the page's hit list shows (``HitOut``) for an item of ``snap``."""
    item = snap.items[item_id]
    where = f"{quote(snap.name, safe='')}/{item_id}"
    return HitOut(rank=rank, score=score, id=item_id, path=item.file, name=Path(item.file).name,
                 relpath=snap.relative(item.file), duration=item.duration, start=item.start, end=item.end,
                 audio_url=f"api/audio/{where}", peaks_url=f"api/peaks/{where}")
