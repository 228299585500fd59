"""``clap dedupe``: groups of near-duplicate files (one recording re-encoded, resampled, at another gain,
trimmed by a little), with a suggested file to keep. It reads; it never deletes, moves or writes a file.

Three steps (docs/library-tools.md says why each threshold is what it is):

1. candidates: every item's nearest neighbours by cosine similarity (``core.search.exact_top_k`` over
   the whole matrix, queries in batches), kept when at least ``threshold``;
2. confirmation of each candidate pair: durations within ``duration_tolerance`` (and 5% of the longer),
   then, when a fingerprinter is available, Chromaprint fingerprints at least
   ``chromaprint.SAME_RECORDING`` alike (a pair where a file has no fingerprint, e.g. under 3 s, is
   confirmed by duration alone);
3. groups: connected components of the confirmed pairs (union-find), each with a file to keep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from clapcli.core import chromaprint
from clapcli.core.keeper import FileQuality, choose_keeper, quality_of
from clapcli.core.search import exact_top_k
from clapcli.errors import InvalidField

# Cosine similarity of candidates. clapback reports 0.9972-0.9995 between two rips of one master with
# LAION CLAP; a lossy re-encode moves an embedding further than a rip does, so candidates start lower,
# and the duration and fingerprint checks reject what is merely alike.
DEFAULT_THRESHOLD = 0.98
DEFAULT_NEIGHBOURS = 10
DEFAULT_DURATION_TOLERANCE = 0.5  # seconds; also at most 5% of the longer file (a short sample trims less)
RELATIVE_TOLERANCE = 0.05
QUERY_BATCH = 1024
# Inverted lists probed per item with --approximate. A near-duplicate (cosine >= 0.98) falls in its
# source's list or a next one; retrieval's default (1/15 of the lists, for recall of ordinary neighbours)
# probed 54 lists at 40,000 rows: 14.7 s against 1.9 s with 4 and 40 s exact, loaded machine.
APPROXIMATE_NPROBE = 8


@dataclass(frozen=True)
class DedupeItem:
    path: str
    duration: float | None


@dataclass(frozen=True)
class Member:
    path: str
    keep: bool
    similarity: float  # cosine with the kept file (1.0 for itself)
    fingerprint: float | None  # fingerprint likeness with the kept file (None: not computed / no fingerprint)
    quality: FileQuality
    reason: str  # why this file is the one to keep, or why not


@dataclass(frozen=True)
class DuplicateGroup:
    number: int
    members: list[Member]


@dataclass(frozen=True)
class DedupeOptions:
    threshold: float = DEFAULT_THRESHOLD
    neighbours: int = DEFAULT_NEIGHBOURS
    duration_tolerance: float = DEFAULT_DURATION_TOLERANCE
    fingerprint: bool = True  # use a fingerprinter when one is available
    approximate: bool = False  # candidates from a faiss index built in memory (never saved)

    def check(self) -> DedupeOptions:
        if not 0.0 < self.threshold <= 1.0:
            raise InvalidField("threshold", "must be in (0, 1], a cosine similarity (default {default})",
                               default=DEFAULT_THRESHOLD)
        if self.neighbours < 1:
            raise InvalidField("neighbours", "must be >= 1")
        if self.duration_tolerance < 0:
            raise InvalidField("duration_tolerance", "must be >= 0 seconds")
        return self


@dataclass
class DedupeReport:
    groups: list[DuplicateGroup]
    items: int
    candidates: int  # pairs above the threshold
    # reason -> pairs rejected: "duration", "fingerprint", or "group" (the pair agrees, but a file of one
    # group disagrees with a file of the other)
    rejected: dict[str, int] = field(default_factory=dict)
    fingerprinter: str | None = None


def candidate_pairs(vectors: np.ndarray, threshold: float, neighbours: int,
                    approximate: bool = False) -> list[tuple[int, int, float]]:
    """(i, j, cosine) with i < j for each pair among each row's ``neighbours`` nearest at >= ``threshold``
    (exact, or with ``approximate`` from a faiss IVF index built in memory: near-duplicates share their
    inverted list, so they are found while most of the matrix is skipped)."""
    n = vectors.shape[0]
    found: dict[tuple[int, int], float] = {}
    k = min(neighbours + 1, n)  # + 1: a row finds itself first
    index = None
    if approximate and n:
        from clapcli.core.search import build_index

        index = build_index(vectors, np.arange(n, dtype=np.int64))  # kept in memory: dedupe writes nothing
    for start in range(0, n, QUERY_BATCH):
        batch = vectors[start : start + QUERY_BATCH]
        if index is None:
            scores, rows = exact_top_k(vectors, batch, k)
        else:
            from clapcli.core.search import search_index

            scores, rows = search_index(index, batch, k, APPROXIMATE_NPROBE)
        for offset, (row_scores, row_ids) in enumerate(zip(scores, rows, strict=True)):
            i = start + offset
            keep = row_scores >= threshold
            for j, score in zip(row_ids[keep].tolist(), row_scores[keep].tolist(), strict=True):
                if j != i and j >= 0:  # faiss pads a short answer with -1
                    found[(min(i, j), max(i, j))] = min(float(score), 1.0)
    return [(i, j, s) for (i, j), s in sorted(found.items())]


def durations_agree(first: float | None, second: float | None, tolerance: float) -> bool:
    """Within ``tolerance`` seconds and ``RELATIVE_TOLERANCE`` of the longer; unknown durations agree."""
    if first is None or second is None:
        return True
    allowed = min(tolerance, RELATIVE_TOLERANCE * max(first, second))
    return abs(first - second) <= allowed + 1e-6


class _Fingerprints:
    """Each file's fingerprint computed once, only for files in a candidate pair."""

    def __init__(self, compute: chromaprint.Fingerprinter) -> None:
        self.compute = compute
        self.known: dict[str, np.ndarray | None] = {}

    def of(self, path: str) -> np.ndarray | None:
        if path not in self.known:
            self.known[path] = self.compute(path)
        return self.known[path]

    def likeness(self, first: str, second: str) -> float | None:
        return chromaprint.similarity(self.of(first), self.of(second))


def find_duplicates(
    items: Sequence[DedupeItem], vectors: np.ndarray, options: DedupeOptions = DedupeOptions(),
    fingerprinter: chromaprint.Fingerprinter | None = None, backend: str | None = None,
    quality: Callable[[str, float | None], FileQuality] = quality_of,
    on_progress: Callable[[float], None] | None = None,
) -> DedupeReport:
    """Groups of near-duplicates among ``items`` (row i of ``vectors``, L2-normalized, is item i)."""
    options.check()
    if len(items) != vectors.shape[0]:
        raise ValueError("one vector per item")
    pairs = candidate_pairs(vectors, options.threshold, options.neighbours, options.approximate)
    prints = _Fingerprints(fingerprinter) if fingerprinter is not None else None
    report = DedupeReport([], len(items), len(pairs), {"duration": 0, "fingerprint": 0, "group": 0}, backend)

    def conflict(i: int, j: int) -> str | None:
        if not durations_agree(items[i].duration, items[j].duration, options.duration_tolerance):
            return "duration"
        if prints is not None:
            alike = prints.likeness(items[i].path, items[j].path)
            if alike is not None and alike < chromaprint.SAME_RECORDING:
                return "fingerprint"
        return None

    # Most alike first; two groups join only when every pair across them agrees, so a file without a
    # fingerprint (or a chain of small trims) never bridges two recordings the checks tell apart.
    members: dict[int, list[int]] = {i: [i] for i in range(len(items))}
    group_of = list(range(len(items)))
    for i, j, _ in sorted(pairs, key=lambda pair: -pair[2]):
        if on_progress is not None:
            on_progress(1)
        first, second = group_of[i], group_of[j]
        if first == second:
            continue
        reason = conflict(i, j)
        if reason is not None:
            report.rejected[reason] += 1
            continue
        if any(conflict(a, b) for a in members[first] for b in members[second] if (a, b) != (i, j)):
            report.rejected["group"] += 1
            continue
        for index in members[second]:
            group_of[index] = first
        members[first].extend(members.pop(second))
    clusters = sorted((sorted(m, key=lambda i: items[i].path) for m in members.values() if len(m) > 1),
                      key=lambda m: items[m[0]].path)
    for number, cluster in enumerate(clusters, start=1):
        report.groups.append(_group(number, cluster, items, vectors, prints, quality))
    return report


def _group(number: int, cluster: list[int], items: Sequence[DedupeItem], vectors: np.ndarray,
           prints: _Fingerprints | None, quality: Callable[[str, float | None], FileQuality]) -> DuplicateGroup:
    qualities = {i: quality(items[i].path, items[i].duration) for i in cluster}
    kept, reasons = choose_keeper({items[i].path: qualities[i] for i in cluster})
    keeper = next(i for i in cluster if items[i].path == kept)
    members = []
    for i in cluster:
        cosine = 1.0 if i == keeper else min(float(vectors[i] @ vectors[keeper]), 1.0)
        alike = None
        if prints is not None:
            alike = 1.0 if i == keeper else prints.likeness(items[i].path, items[keeper].path)
        members.append(Member(items[i].path, i == keeper, cosine, alike, qualities[i], reasons[items[i].path]))
    members.sort(key=lambda m: (not m.keep, m.path))
    return DuplicateGroup(number, members)


# ---------------------------------------------------------------- where the vectors come from


def library_items(db: object, collection: str) -> tuple[list[DedupeItem], np.ndarray]:
    """The items of a library collection (one vector per file) and their vectors; opened read-only."""
    from clapcli.store import open_store

    with open_store(db, readonly=True) as store:  # type: ignore[arg-type]
        target = store.collection(collection, create=False)
        if target.segments() is not None:
            raise InvalidField("collection", "collection '{name}' in {path} holds one vector per window; dedupe "
                               "needs one per file (embed the files into another {collection})",
                               name=collection, path=store.path)
        stored = target.load_matrix(cache=False)  # a reader writes nothing beside the library
        rows: dict[int, tuple[str, float | None]] = {}
        ids = stored.ids.tolist()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows.update((item, (path, duration)) for item, path, duration in store.connection.execute(
                f"SELECT id, path, duration FROM items WHERE id IN ({marks})", chunk))
    items = [DedupeItem(*rows[item]) for item in ids]
    return items, stored.vectors


def embedded_items(results: Sequence[object]) -> tuple[list[DedupeItem], np.ndarray]:
    """Items from ``Embedding`` results (files embedded in this run), vectors L2-normalized."""
    from clapcli.core.text import l2_normalize

    embeddings = [r for r in results if getattr(r, "vector", None) is not None]
    if not embeddings:
        return [], np.zeros((0, 1), np.float32)
    items = [DedupeItem(str(r.source), r.duration) for r in embeddings]  # type: ignore[attr-defined]
    vectors = l2_normalize(np.stack([np.asarray(r.vector, np.float32) for r in embeddings]))  # type: ignore[attr-defined]
    return items, np.ascontiguousarray(vectors, dtype=np.float32)
