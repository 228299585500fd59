"""``clap retrieve --where``: which items of a library a search may return.

Grammar (each ``--where`` is one condition; several must all hold):

    tag:LABEL OP NUMBER     the item's score for LABEL (``clap tag``), e.g. ``tag:ambient>0.5``
    duration OP NUMBER      the file's length in seconds, e.g. ``duration<30``
    folder:NAME             a folder of the file's path is NAME (``drums``), or its path runs through
                            NAME (``drums/kicks``), or, when NAME is absolute, the file is under NAME

OP is one of ``>= <= != > < =``. An item without a score for the label (not tagged yet) or without a
duration never matches a condition on it.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clapcli.errors import InvalidField
from clapcli.store import Collection

GRAMMAR = "tag:LABEL>0.5, duration<30 (seconds) or folder:NAME; operators >= <= != > < ="
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "!=": operator.ne, ">": operator.gt, "<": operator.lt, "=": operator.eq,
}
_COMPARISON = re.compile(r"^(?P<key>.+?)\s*(?P<op>>=|<=|!=|>|<|=)\s*(?P<value>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$")


@dataclass(frozen=True)
class Condition:
    kind: str  # "tag", "duration" or "folder"
    text: str  # as the user wrote it
    label: str = ""  # tag: the label; folder: the folder
    op: str = ""
    value: float = 0.0

    def holds(self, number: float | None) -> bool:
        return number is not None and OPERATORS[self.op](number, self.value)


def _bad(text: str, why: str = "") -> InvalidField:
    return InvalidField("where", "{where} '{text}' is not a filter{why}: use {grammar}", text=text,
                        why=f" ({why})" if why else "", grammar=GRAMMAR)


def parse_where(expressions: Sequence[str]) -> list[Condition]:
    """Each expression as a ``Condition``; an expression outside the grammar raises ``InvalidField``."""
    return [_parse(text) for text in expressions]


def _parse(text: str) -> Condition:
    stripped = text.strip()
    if stripped.lower().startswith("folder:"):
        folder = stripped[len("folder:"):].strip().rstrip("/\\")
        if not folder:
            raise _bad(text, "no folder name")
        return Condition("folder", text, folder)
    match = _COMPARISON.match(stripped)
    if match is None:
        raise _bad(text)
    key, op, value = match["key"].strip(), match["op"], float(match["value"])
    if key.lower() == "duration":
        return Condition("duration", text, "", op, value)
    if key.lower().startswith("tag:") and key[4:].strip():
        return Condition("tag", text, key[4:].strip(), op, value)
    raise _bad(text, f"unknown field '{key}'")


def in_folder(path: str, folder: str) -> bool:
    """``folder`` is one of the path's folders, a run of them (``a/b``), or (absolute) an ancestor."""
    directory = os.path.dirname(path)
    if os.path.isabs(folder):
        return os.path.commonpath([os.path.abspath(directory), os.path.abspath(folder)]) == os.path.abspath(folder)
    parts = [p for p in re.split(r"[/\\]+", directory) if p]
    wanted = [p for p in re.split(r"[/\\]+", folder) if p]
    return any(parts[i : i + len(wanted)] == wanted for i in range(len(parts) - len(wanted) + 1))


def matching_ids(rows: Sequence[tuple[int, str, float | None]], conditions: Sequence[Condition],
                 tag_scores: Callable[[str], dict[int, float]]) -> set[int]:
    """Ids of the rows (id, file path, duration) for which every condition holds; ``tag_scores(label)``
    gives item id -> score."""
    scores = {c.label: tag_scores(c.label) for c in conditions if c.kind == "tag"}
    kept = set()
    for item, path, duration in rows:
        if all(_holds(c, item, path, duration, scores) for c in conditions):
            kept.add(item)
    return kept


def _holds(condition: Condition, item: int, path: str, duration: float | None,
           scores: dict[str, dict[int, float]]) -> bool:
    if condition.kind == "folder":
        return in_folder(path, condition.label)
    if condition.kind == "duration":
        return condition.holds(duration)
    return condition.holds(scores[condition.label].get(item))


def collection_filter(collection: Collection, conditions: Sequence[Condition]) -> set[int]:
    """Ids of the collection's items (windows too, judged by their file) for which every condition holds."""
    from clapcli.errors import UsageError
    from clapcli.store.tags import scores_for, tag_set

    labels = [c.label for c in conditions if c.kind == "tag"]
    if labels:
        found = tag_set(collection)
        where = f"collection '{collection.name}' in {collection.store.path}"
        if found is None:
            raise UsageError(f"{where} has no tag scores; run 'clap tag --db {collection.store.path} --labels-file "
                             "FILE' first")
        unknown = [label for label in labels if label not in found.labels]
        if unknown:
            raise UsageError(f"--where tag:{unknown[0]}: {where} has no tag '{unknown[0]}' (its tags: "
                             f"{', '.join(found.labels)})")
    rows = collection.store.connection.execute(
        "SELECT id, coalesce(source, path), duration FROM items WHERE collection_id = ?", (collection.id,)
    ) if collection.segments() is not None else collection.store.connection.execute(
        "SELECT id, path, duration FROM items WHERE collection_id = ?", (collection.id,))
    return matching_ids(list(rows), conditions, lambda label: scores_for(collection, label))
