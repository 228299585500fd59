"""Zero-shot classification: the library behind ``clap classify``.

Scores are ``softmax(logit_scale * cosine)`` over the labels, as in transformers'
zero-shot-audio-classification pipeline; label embeddings are computed once per run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from clapcli.core.pipeline import Source, encode_stream
from clapcli.core.text import encode_texts, l2_normalize
from clapcli.errors import ExpectationError, InvalidField
from clapcli.models.base import EmbeddingModel
from clapcli.results import Classification, FailedInput, Prediction


@dataclass
class LabelSet:
    labels: list[str]
    embeddings: np.ndarray  # (n_labels, dim), normalized
    logit_scale: float


def prepare_labels(model: EmbeddingModel, labels: Sequence[str], template: str | None = None) -> LabelSet:
    labels = list(dict.fromkeys(label.strip() for label in labels if label.strip()))
    if len(labels) < 2:
        raise InvalidField("labels", "give at least two distinct labels ({labels} \"a,b\" or {labels_file} FILE)")
    template = template if template is not None else model.default_template
    if "{}" not in template:
        raise InvalidField("template", "{template} {value!r} must contain '{{}}' where the label goes", value=template)
    prompts = [template.replace("{}", label) for label in labels]
    return LabelSet(labels, encode_texts(model, prompts), model.logit_scale)


def scores(media_embeddings: np.ndarray, label_set: LabelSet) -> np.ndarray:
    """(n, n_labels) probabilities for normalized media embeddings."""
    logits = label_set.logit_scale * (media_embeddings @ label_set.embeddings.T)
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def rank(probabilities: np.ndarray, labels: list[str], top_k: int | None) -> list[Prediction]:
    order = np.argsort(-probabilities, kind="stable")
    if top_k:
        order = order[:top_k]
    return [Prediction(labels[i], float(probabilities[i])) for i in order]


def classify_media(
    model: EmbeddingModel, sources: Iterable[Source], label_set: LabelSet, top_k: int | None = None,
    batch_size: int | None = None, workers: int | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Iterator[Classification | FailedInput]:
    for result in encode_stream(sources, model, batch_size, workers, on_progress):
        if isinstance(result, FailedInput):
            yield result
            continue
        probabilities = scores(l2_normalize(result.vector[None]), label_set)[0]
        yield Classification(result.source, rank(probabilities, label_set.labels, top_k), result.duration)


def check_expected_label(expect: str | None, labels: Sequence[str]) -> None:
    """``expect`` (the label every input's top label must be) is one of ``labels``."""
    if expect is not None and expect not in labels:
        raise InvalidField("expect", "{expect} '{value}' is not one of the labels", value=expect)


def check_expectation(result: Classification, expected: str | None, min_score: float | None) -> None:
    """For CI smoke tests: the top label must be ``expected`` (and score at least ``min_score``)."""
    top = result.top
    if expected is not None and top.label != expected:
        raise ExpectationError(
            f"{result.source}: expected '{expected}' but the top label is '{top.label}' ({top.score:.3f})"
        )
    if min_score is not None and top.score < min_score:
        raise ExpectationError(
            f"{result.source}: top label '{top.label}' scored {top.score:.3f}, below --min-score {min_score}"
        )
