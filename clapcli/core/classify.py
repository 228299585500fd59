"""Zero-shot classification: the library behind ``clap classify``.

Logits are ``logit_scale * similarity + logit_bias``: the cosine for CLAP and CLIP-style models (no
bias), the raw dot product for PE-Audio (its learned scale and bias, as ``PeAudioModel.forward``).
Scoring (``SCORINGS``):

- ``softmax`` over the labels, as in transformers' zero-shot-audio-classification pipeline: the labels
  compete and a clip's scores sum to 1 (the default for models trained with a softmax loss: CLAP);
- ``sigmoid`` per label: each label its own probability (multi-label), for models trained with a
  sigmoid loss and a learned bias (PE-Audio, its default). CLAP learned no bias, so a sigmoid of its
  scaled cosine is no probability: refused.

Label embeddings are computed once per run.
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

SCORINGS = ("softmax", "sigmoid")


@dataclass
class LabelSet:
    labels: list[str]
    embeddings: np.ndarray  # (n_labels, dim), normalized unless ``cosine`` is False
    logit_scale: float
    logit_bias: float = 0.0
    scoring: str = "softmax"
    cosine: bool = True  # normalize media embeddings before scoring (False: raw dot products)


def check_scoring(model: EmbeddingModel, scoring: str | None) -> str:
    """``scoring`` (None: the model's own) if the model can give it."""
    scoring = scoring or model.default_scoring
    if scoring not in SCORINGS:
        raise InvalidField("scoring", "{scoring} {value}: choose softmax or sigmoid", value=scoring)
    if scoring == "sigmoid" and model.default_scoring != "sigmoid":
        raise InvalidField("scoring", "{scoring} sigmoid needs a model trained with a sigmoid loss and a learned "
                           "bias (PE-Audio, e.g. pe-av-base); '{model}' scores by softmax over the labels",
                           model=model.model_id)
    return scoring


def prepare_labels(model: EmbeddingModel, labels: Sequence[str], template: str | None = None,
                   scoring: str | None = None) -> LabelSet:
    labels = list(dict.fromkeys(label.strip() for label in labels if label.strip()))
    scoring = check_scoring(model, scoring)
    if len(labels) < 2 and scoring == "softmax":
        raise InvalidField("labels", "give at least two distinct labels ({labels} \"a,b\" or {labels_file} FILE)")
    if not labels:
        raise InvalidField("labels", "give at least one label ({labels} \"a,b\" or {labels_file} FILE)")
    template = template if template is not None else model.default_template
    if "{}" not in template:
        raise InvalidField("template", "{template} {value!r} must contain '{{}}' where the label goes", value=template)
    prompts = [template.replace("{}", label) for label in labels]
    cosine = model.similarity == "cosine"
    return LabelSet(labels, encode_texts(model, prompts, normalize=cosine), model.logit_scale, model.logit_bias,
                    scoring, cosine)


def scores(media_embeddings: np.ndarray, label_set: LabelSet) -> np.ndarray:
    """(n, n_labels) probabilities for media embeddings (normalized when ``label_set.cosine``)."""
    logits = label_set.logit_scale * (media_embeddings.astype(np.float64) @ label_set.embeddings.T.astype(np.float64))
    logits += label_set.logit_bias
    if label_set.scoring == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits))
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def rank(probabilities: np.ndarray, labels: list[str], top_k: int | None,
         threshold: float | None = None) -> list[Prediction]:
    """Labels best first: those scoring at least ``threshold`` (all when None), at most ``top_k``."""
    order = np.argsort(-probabilities, kind="stable")
    if threshold is not None:
        order = order[probabilities[order] >= threshold]
    if top_k:
        order = order[:top_k]
    return [Prediction(labels[i], float(probabilities[i])) for i in order]


def classify_media(
    model: EmbeddingModel, sources: Iterable[Source], label_set: LabelSet, top_k: int | None = None,
    batch_size: int | None = None, workers: int | None = None,
    on_progress: Callable[[float], None] | None = None, threshold: float | None = None,
) -> Iterator[Classification | FailedInput]:
    for result in encode_stream(sources, model, batch_size, workers, on_progress):
        if isinstance(result, FailedInput):
            yield result
            continue
        vector = l2_normalize(result.vector[None]) if label_set.cosine else result.vector[None]
        probabilities = scores(vector, label_set)[0]
        yield Classification(result.source, rank(probabilities, label_set.labels, top_k, threshold), result.duration)


def check_expected_label(expect: str | None, labels: Sequence[str]) -> None:
    """``expect`` (the label every input's top label must be) is one of ``labels``."""
    if expect is not None and expect not in labels:
        raise InvalidField("expect", "{expect} '{value}' is not one of the labels", value=expect)


def check_expectation(result: Classification, expected: str | None, min_score: float | None) -> None:
    """For CI smoke tests: the top label must be ``expected`` (and score at least ``min_score``)."""
    if not result.predictions:
        if expected is not None or min_score is not None:
            raise ExpectationError(f"{result.source}: no label scored at least --threshold")
        return
    top = result.top
    if expected is not None and top.label != expected:
        raise ExpectationError(
            f"{result.source}: expected '{expected}' but the top label is '{top.label}' ({top.score:.3f})"
        )
    if min_score is not None and top.score < min_score:
        raise ExpectationError(
            f"{result.source}: top label '{top.label}' scored {top.score:.3f}, below --min-score {min_score}"
        )
