"""The page's map view: the collection's 2-D layout (``core.mapping.project``, as ``clap map`` draws it),
each point coloured by its best tag or its folder.

Computed on the first request, in the background (``serve.jobs``), and kept per collection version,
library file state (tags change it), method and colouring. PCA by default: it is one pass over the
rows, where t-SNE and UMAP take minutes on a large library. A collection over ``MAX_POINTS`` rows is
mapped through an even sample of that many (seeded, so every run shows the same points), and the
answer says so (``total`` beside ``shown``): the page draws every point it gets on a canvas, and
20,000 points are about 1.5 MB of JSON.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import numpy as np
from fastapi import Query
from pydantic import BaseModel

from clapcli.core.mapping import COLOURS, METHODS, groups_by_folder, project
from clapcli.errors import UsageError
from clapcli.serve.jobs import Jobs, answer
from clapcli.serve.library import LibraryState, Snapshot, disk_signature
from clapcli.serve.views_tags import tag_hint, top_tags

MAX_POINTS = 20_000
COLOUR_PATTERN = f"^({'|'.join(COLOURS)})$"
METHOD_PATTERN = f"^({'|'.join(METHODS)})$"
SEED = 0


class MapGroupOut(BaseModel):
    name: str  # a tag, a folder's name, "untagged"
    count: int  # points shown in it


class MapPointOut(BaseModel):
    id: int
    x: float  # 0..1 across the map
    y: float  # 0..1 up the map
    group: int  # index into ``groups``
    relpath: str  # the file, relative to the library root
    start: float | None = None  # segment collections: the window's start in the file


class MapOut(BaseModel):
    collection: str
    method: str
    color: str  # what colours the points: "tag" or "folder"
    total: int  # rows of the collection
    shown: int  # points here (an even sample when total > MAX_POINTS)
    groups: list[MapGroupOut]  # most points first
    points: list[MapPointOut]


def sample_rows(count: int, limit: int, seed: int = SEED) -> np.ndarray:
    """All rows, or ``limit`` of them chosen at random with ``seed`` (in row order)."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))


def compute_map(library: LibraryState, snap: Snapshot, method: str, color: str, limit: int = MAX_POINTS) -> MapOut:
    rows = sample_rows(snap.count, limit)
    ids = snap.ids[rows]
    coordinates = project(snap.vectors[rows], method, SEED)
    low, high = coordinates.min(axis=0), coordinates.max(axis=0)
    scaled = (coordinates - low) / np.where(high > low, high - low, 1.0)
    files = [snap.items[int(i)].file for i in ids.tolist()]
    tags = None if color == "folder" else top_tags(library.db, snap.name, ids)
    if color == "tag" and tags is None:
        raise UsageError(f"collection '{snap.name}' has no tags to colour the map by; {tag_hint(library.db)}")
    names = tags if tags is not None else groups_by_folder(files)
    order = [name for name, _ in Counter(names).most_common()]
    number = {name: n for n, name in enumerate(order)}
    counts = Counter(names)
    points = [MapPointOut(id=int(i), x=round(float(x), 5), y=round(float(y), 5), group=number[name],
                          relpath=snap.relative(file), start=snap.items[int(i)].start)
              for i, (x, y), name, file in zip(ids.tolist(), scaled.tolist(), names, files, strict=True)]
    return MapOut(collection=snap.name, method=method, color="tag" if tags is not None else "folder",
                  total=snap.count, shown=len(points), groups=[MapGroupOut(name=n, count=counts[n]) for n in order],
                  points=points)


def add_map_routes(app: Any, library: LibraryState, jobs: Jobs, default_collection: str) -> None:
    @app.get("/api/map", response_model=MapOut, summary="The collection's 2-D map (202 while it is computed)",
             responses={202: {"description": "Being computed: ask again ({\"computing\": \"...\"})"}})
    async def library_map(collection: str | None = None,
                          color: Annotated[str, Query(pattern=COLOUR_PATTERN,
                                                      description="auto: tags when there are some")] = "auto",
                          method: Annotated[str, Query(pattern=METHOD_PATTERN,
                                                       description="pca is fast; tsne and umap need clapcli[map]")]
                          = "pca") -> MapOut:
        snap = library.snapshot(collection or default_collection)
        key = ("map", snap.name, snap.version, method, color, disk_signature(library.db))
        return await answer(jobs, key, lambda: compute_map(library, snap, method, color),
                            f"the map of '{snap.name}'")
