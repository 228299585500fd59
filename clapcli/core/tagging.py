"""``clap tag``: zero-shot tag scores for every item of a library collection, stored in the library.

An item's scores are ``softmax(logit_scale * cosine)`` over the label set, exactly ``clap classify``'s
(``core.classify.scores``), computed from the vector already in the library: only the labels go through
the model (its text tower), once per run. Items are scored in batches, one transaction each, so an
interrupted run keeps what it finished and the next run does only the items without scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clapcli.core.classify import prepare_labels, scores
from clapcli.errors import InvalidField
from clapcli.models.base import EmbeddingModel
from clapcli.store import Collection
from clapcli.store.tags import TagSet, start_tag_set, untagged_ids, vectors_of, write_scores

BATCH = 1024


@dataclass
class TagSummary:
    tagged: int = 0  # items scored in this run
    already: int = 0  # items that had scores for this label set
    replaced: int = 0  # items whose scores for another label set were dropped


def tag_collection(
    collection: Collection, model: EmbeddingModel, labels: Sequence[str], template: str | None = None,
    on_progress: Callable[[float], None] | None = None, on_start: Callable[[int], None] | None = None,
    batch: int = BATCH,
) -> TagSummary:
    """Score every untagged item of ``collection`` (a file, or a window of a segment collection) against
    ``labels`` with ``model`` (the collection's own)."""
    if model.model_id != collection.model_id or model.embedding_dim != collection.dim:
        raise InvalidField("model", "collection '{name}' was built with model '{built}'; pass {model} {built}",
                           name=collection.name, built=collection.model_id)
    label_set = prepare_labels(model, labels, template)
    used = template if template is not None else model.default_template
    summary = TagSummary()
    summary.replaced = start_tag_set(collection, TagSet(label_set.labels, used, model.model_id))
    todo = untagged_ids(collection)
    summary.already = collection.count() - len(todo)
    if on_start is not None:
        on_start(len(todo))
    for start in range(0, len(todo), batch):
        ids, vectors = vectors_of(collection, todo[start : start + batch])
        if ids:
            write_scores(collection, ids, label_set.labels, scores(vectors, label_set))
        summary.tagged += len(ids)
        if on_progress is not None:
            on_progress(len(todo[start : start + batch]))
    return summary
