"""Tag scores of a collection's items (schema version 3, ``schema._v3_tags``): one label set per collection,
one score per item and label. Items without scores are the ones ``clap tag`` still has to do, so an
interrupted run resumes where it stopped; a changed vector drops its item's scores (a trigger)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clapcli.store.collection import Collection

CHUNK = 500


@dataclass(frozen=True)
class TagSet:
    labels: list[str]
    template: str
    model_id: str


def has_tags_table(collection: Collection) -> bool:
    """False for a library older than tags opened read-only (a writer would have migrated it)."""
    row = collection.store.connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tags'").fetchone()
    return row is not None


def tag_set(collection: Collection) -> TagSet | None:
    if not has_tags_table(collection):
        return None
    row = collection.store.connection.execute(
        "SELECT labels, template, model_id FROM tag_sets WHERE collection_id = ?", (collection.id,)).fetchone()
    return None if row is None else TagSet(json.loads(row[0]), row[1], row[2])


def start_tag_set(collection: Collection, wanted: TagSet) -> int:
    """Make ``wanted`` the collection's label set; another set's scores are dropped first (returns how
    many items had them). The same set keeps its scores, so a rerun only does the missing items."""
    current = tag_set(collection)
    if current == wanted:
        return 0
    with collection.store.write() as db:
        dropped = db.execute("SELECT count(DISTINCT item_id) FROM tags WHERE item_id IN "
                             "(SELECT id FROM items WHERE collection_id = ?)", (collection.id,)).fetchone()[0]
        db.execute("DELETE FROM tags WHERE item_id IN (SELECT id FROM items WHERE collection_id = ?)",
                   (collection.id,))
        db.execute("INSERT INTO tag_sets (collection_id, labels, template, model_id, created) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT(collection_id) DO UPDATE SET labels = excluded.labels, template = excluded.template, "
                   "model_id = excluded.model_id, created = excluded.created",
                   (collection.id, json.dumps(wanted.labels), wanted.template, wanted.model_id, time.time()))
    return dropped


def untagged_ids(collection: Collection) -> list[int]:
    return [row[0] for row in collection.store.connection.execute(
        "SELECT id FROM items WHERE collection_id = ? AND NOT EXISTS (SELECT 1 FROM tags WHERE item_id = items.id) "
        "ORDER BY id", (collection.id,))]


def vectors_of(collection: Collection, ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
    """(ids found, their vectors) for ``ids`` (an item deleted meanwhile is left out)."""
    found: dict[int, bytes] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = [int(i) for i in ids[start : start + CHUNK]]
        marks = ",".join("?" * len(chunk))
        found.update(collection.store.connection.execute(
            f"SELECT id, vector FROM items WHERE id IN ({marks})", chunk))
    kept = [int(i) for i in ids if int(i) in found]
    matrix = np.frombuffer(b"".join(found[i] for i in kept), dtype="<f4").reshape(len(kept), collection.dim)
    return kept, matrix


def write_scores(collection: Collection, ids: Sequence[int], labels: Sequence[str], scores: np.ndarray) -> None:
    """One transaction: the scores of ``ids`` (rows of ``scores``, one column per label)."""
    rows = [(int(item), label, float(score)) for item, row in zip(ids, scores.tolist(), strict=True)
            for label, score in zip(labels, row, strict=True)]
    with collection.store.write() as db:
        db.executemany("INSERT OR REPLACE INTO tags (item_id, label, score) VALUES (?, ?, ?)", rows)


def top_tag_counts(collection: Collection) -> dict[str, int]:
    """label -> how many items have it as their best-scoring tag (labels never on top are listed with 0)."""
    found = tag_set(collection)
    if found is None:
        return {}
    counts = dict.fromkeys(found.labels, 0)
    try:
        rows = collection.store.connection.execute(
            "SELECT label, count(*) FROM (SELECT t.item_id, t.label, max(t.score) FROM tags t JOIN items i ON "
            "i.id = t.item_id WHERE i.collection_id = ? GROUP BY t.item_id) GROUP BY label", (collection.id,))
        for label, count in rows:
            counts[label] = count
    except sqlite3.OperationalError:
        return {}
    return counts


def tagged_count(collection: Collection) -> int:
    if not has_tags_table(collection):
        return 0
    return collection.store.connection.execute(
        "SELECT count(DISTINCT t.item_id) FROM tags t JOIN items i ON i.id = t.item_id WHERE i.collection_id = ?",
        (collection.id,)).fetchone()[0]


def scores_for(collection: Collection, label: str) -> dict[int, float]:
    """item id -> score of ``label`` for the collection's tagged items."""
    return dict(collection.store.connection.execute(
        "SELECT t.item_id, t.score FROM tags t JOIN items i ON i.id = t.item_id WHERE i.collection_id = ? AND "
        "t.label = ?", (collection.id, label)))
