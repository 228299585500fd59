"""The page's duplicates view: the groups ``clap dedupe --db`` finds (``core.dedupe.find_duplicates`` with
the same defaults and the same fingerprinter), each with the file it suggests keeping and why.

Read-only, like the command: the server lists; it never deletes, moves or changes a file. The report
is computed on the first request, in the background (``serve.jobs``), and kept per collection version
and threshold; fingerprints are kept per file (its path, size and modification time) across thresholds,
so trying another threshold only fingerprints new candidates, and a file changed on disk is fingerprinted
again.
"""

from __future__ import annotations

import os
import threading
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel

from clapcli.core.dedupe import DEFAULT_THRESHOLD, DedupeItem, DedupeOptions, DedupeReport, find_duplicates
from clapcli.errors import UsageError
from clapcli.serve.jobs import Jobs, answer
from clapcli.serve.library import LibraryState, Snapshot

MAX_GROUPS = 500  # groups per answer (page through the rest with offset)
FINGERPRINTS_KEPT = 100_000  # files whose fingerprint is remembered (a few kB each)


class MemberOut(BaseModel):
    id: int
    path: str
    relpath: str
    keep: bool  # the suggested file to keep
    similarity: float  # cosine with the kept file
    fingerprint: float | None  # fingerprint likeness with the kept file (None: not computed)
    duration: float | None
    format: str
    rate: int | None
    bits: int | None
    reason: str  # why it is kept, or why not
    audio_url: str
    peaks_url: str


class GroupOut(BaseModel):
    number: int
    members: list[MemberOut]  # the kept file first


class DuplicatesOut(BaseModel):
    collection: str
    threshold: float
    items: int
    candidates: int  # pairs at or above the threshold
    rejected: dict[str, int]  # pairs the duration or fingerprint checks told apart
    fingerprinter: str | None  # "chromaprint", "fpcalc", or None (confirmed by duration only)
    total: int  # groups found (``groups`` holds one page of them)
    groups: list[GroupOut]


class _KeptFingerprints:
    """A fingerprinter that remembers each file's answer (bounded), shared by every run."""

    def __init__(self, compute: Any) -> None:
        self.compute = compute
        self.known: dict[tuple, Any] = {}
        self.lock = threading.Lock()

    def __call__(self, path: str) -> Any:
        try:
            stat = os.stat(path)
        except OSError:
            return self.compute(path)  # gone: the fingerprinter says so (None), nothing to remember
        key = (path, stat.st_size, stat.st_mtime_ns)
        with self.lock:
            if key in self.known:
                return self.known[key]
        found = self.compute(path)
        with self.lock:
            if len(self.known) >= FINGERPRINTS_KEPT:
                self.known.clear()
            self.known[key] = found
        return found


def find_groups(snap: Snapshot, threshold: float, approximate: bool, fingerprints: Any,
                backend: str | None) -> DedupeReport:
    """``clap dedupe --db``'s report on the snapshot's rows (the same rows, vectors and durations)."""
    if snap.segmented:
        raise UsageError(f"collection '{snap.name}' holds one vector per window; duplicates are found among "
                         "collections with one per file (embed the files into another collection)")
    items = [DedupeItem(snap.items[int(i)].path, snap.items[int(i)].duration) for i in snap.ids.tolist()]
    options = DedupeOptions(threshold=threshold, approximate=approximate).check()
    return find_duplicates(items, snap.vectors, options, fingerprints, backend)


def report_out(snap: Snapshot, report: DedupeReport, threshold: float, offset: int, limit: int) -> DuplicatesOut:
    from urllib.parse import quote

    id_of = {item.path: item.id for item in snap.items.values()}
    groups = []
    for group in report.groups[offset : offset + limit]:
        members = []
        for m in group.members:
            item = id_of[m.path]
            where = f"{quote(snap.name, safe='')}/{item}"
            members.append(MemberOut(
                id=item, path=m.path, relpath=snap.relative(m.path), keep=m.keep, similarity=round(m.similarity, 6),
                fingerprint=None if m.fingerprint is None else round(m.fingerprint, 4), duration=m.quality.duration,
                format=m.quality.format, rate=m.quality.rate, bits=m.quality.bits, reason=m.reason,
                audio_url=f"api/audio/{where}", peaks_url=f"api/peaks/{where}"))
        groups.append(GroupOut(number=group.number, members=members))
    return DuplicatesOut(collection=snap.name, threshold=threshold, items=report.items, candidates=report.candidates,
                         rejected=report.rejected, fingerprinter=report.fingerprinter, total=len(report.groups),
                         groups=groups)


def add_duplicate_routes(app: Any, library: LibraryState, jobs: Jobs, default_collection: str) -> None:
    from clapcli.core import chromaprint

    backend = chromaprint.backend_name()
    compute = chromaprint.fingerprinter(backend) if backend else None
    fingerprints = _KeptFingerprints(compute) if compute is not None else None

    @app.get("/api/duplicates", response_model=DuplicatesOut,
             summary="Groups of near-duplicates, as 'clap dedupe --db' (202 while they are computed)",
             responses={202: {"description": "Being computed: ask again ({\"computing\": \"...\"})"}})
    async def duplicates(collection: str | None = None,
                         threshold: Annotated[float, Query(gt=0.0, le=1.0, description="Cosine similarity from "
                                                           "which two files are candidates")] = DEFAULT_THRESHOLD,
                         offset: Annotated[int, Query(ge=0, description="Groups to skip")] = 0,
                         limit: Annotated[int, Query(ge=1, le=MAX_GROUPS, description="Groups to list")] = 50,
                         ) -> DuplicatesOut:
        snap = library.snapshot(collection or default_collection)
        threshold = round(threshold, 4)  # 0.98 and 0.98000001 share one computation
        key = ("duplicates", snap.name, snap.version, threshold)
        report = await answer(jobs, key, lambda: find_groups(snap, threshold, library.approximate, fingerprints,
                                                             backend), f"the duplicates of '{snap.name}'")
        return report_out(snap, report, threshold, offset, limit)
