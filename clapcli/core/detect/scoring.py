"""Window scores: every window of every file through the model (the same streaming pipeline and
batching as ``clap embed``), scored against the labels.

Score modes:

- ``softmax``: softmax of ``logit_scale * cosine`` over the labels, exactly ``clap classify`` on the
  window cut out as its own file. The labels compete: scores of a window sum to 1.
- ``similarity``: each label on its own, for open label sets. Without a background prompt the
  score is the cosine similarity (-1..1); with ``background`` it is the probability of the label
  against the background prompt alone (a two-way softmax of the scaled cosines), 0..1.

- ``sigmoid``: a frame-level model (PE-Audio frame) scores its own frames, each label its own
  probability (``clapcli.core.detect.frames``); the only mode such a model has.
- ``probe``: a probe from ``clap train`` (``probe_scorer``): its classes are the labels and its
  probabilities (softmax, or sigmoids for a multi-label probe) score each window's embedding, or each
  frame's embedding for a frame-level model.

The windows come from ``clapcli.core.windows`` (files cut block by block, each window through the
streaming engine); only the (windows x labels) scores are kept per file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clapcli.core.probe.model import Probe
from clapcli.core.text import encode_texts
from clapcli.core.windows import WindowSpec, per_window
from clapcli.errors import InvalidField
from clapcli.models.base import EmbeddingModel
from clapcli.results import FailedInput, FrameScores

MODES = ("softmax", "similarity")


@dataclass
class LabelScorer:
    """Normalized label (and background) embeddings and the rule turning cosines into scores."""

    labels: list[str]
    embeddings: np.ndarray  # (n_labels, dim), normalized
    logit_scale: float
    mode: str
    background: np.ndarray | None = None  # (dim,), normalized
    probe: Probe | None = None  # mode "probe": the probe's probabilities are the scores

    @property
    def probabilities(self) -> bool:
        """Scores are probabilities (0..1): softmax, a probe, or similarity against a background prompt."""
        return self.mode in ("softmax", "sigmoid", "probe") or self.background is not None

    def score(self, media: np.ndarray) -> np.ndarray:
        """(n, n_labels) float32 scores of normalized media embeddings (n, dim)."""
        if self.probe is not None:
            return self.probe.probabilities(media).astype(np.float32)
        cosines = media.astype(np.float64) @ self.embeddings.T.astype(np.float64)
        if self.mode == "softmax":
            logits = self.logit_scale * cosines
            logits -= logits.max(axis=1, keepdims=True)
            exp = np.exp(logits)
            return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        if self.background is None:
            return cosines.astype(np.float32)
        against = media.astype(np.float64) @ self.background.astype(np.float64)
        return (1.0 / (1.0 + np.exp(-self.logit_scale * (cosines - against[:, None])))).astype(np.float32)


def prepare_scorer(model: EmbeddingModel, labels: Sequence[str], mode: str | None = None,
                   template: str | None = None, background: str | None = None) -> LabelScorer:
    """Labels (deduplicated, in order) encoded once. ``mode`` None: softmax for two or more labels,
    similarity for one."""
    labels = list(dict.fromkeys(label.strip() for label in labels if label.strip()))
    if not labels:
        raise InvalidField("labels", "give at least one label ({labels} \"a,b\" or {labels_file} FILE)")
    if model.frame_level:
        prompts = [_template(model, template).replace("{}", label) for label in labels]
        return LabelScorer(labels, encode_texts(model, prompts, normalize=False), model.logit_scale, "sigmoid")
    if model.similarity != "cosine":
        raise InvalidField("name", "{name} '{model}' scores whole clips; clap detect needs a frame-level "
                           "PE-Audio model (e.g. pe-a-frame-base) or a CLAP model", model=model.model_id)
    mode = mode or ("softmax" if len(labels) > 1 else "similarity")
    if mode not in MODES:
        raise InvalidField("mode", "{mode} {value}: choose softmax or similarity", value=mode)
    if mode == "softmax" and len(labels) < 2:
        raise InvalidField("mode", "{mode} softmax needs at least two labels (one label always scores 1); "
                           "use {mode} similarity, optionally with {background}")
    if mode == "softmax" and background is not None:
        raise InvalidField("background", "{background} is for {mode} similarity; in softmax mode add it as a label "
                           "instead")
    template = _template(model, template)
    prompts = [template.replace("{}", label) for label in labels]
    if background is not None:
        if not background.strip():
            raise InvalidField("background", "{background} is empty; give a prompt such as \"background noise\"")
        prompts.append(template.replace("{}", background.strip()))
    embeddings = encode_texts(model, prompts)
    back = embeddings[-1] if background is not None else None
    return LabelScorer(labels, embeddings[: len(labels)], model.logit_scale, mode, back)


def probe_scorer(model: EmbeddingModel, probe: Probe) -> LabelScorer:
    """The probe's classes scored by the probe; a model other than the probe's refused in one line."""
    probe.check_model(model.model_id, model.embedding_dim)
    return LabelScorer(list(probe.classes), np.zeros((0, probe.dim), np.float32), model.logit_scale, "probe",
                       probe=probe)


def _template(model: EmbeddingModel, template: str | None) -> str:
    template = template if template is not None else model.default_template
    if "{}" not in template:
        raise InvalidField("template", "{template} {value!r} must contain '{{}}' where the label goes", value=template)
    return template


def score_files(model: EmbeddingModel, files: Iterable[Path | FailedInput], scorer: LabelScorer,
                spec: WindowSpec, batch_size: int | None = None, workers: int | None = None,
                on_progress: Callable[[float], None] | None = None) -> Iterator[FrameScores | FailedInput]:
    """One ``FrameScores`` per readable file, in input order, or a ``FailedInput`` naming why not.
    ``on_progress(fraction)`` advances by a share of one file per window (1 per file in total)."""
    if model.frame_level:  # its own frames, no windows
        from clapcli.core.detect.frames import score_frames

        yield from score_frames(model, files, scorer.labels, scorer.embeddings, on_progress, scorer.probe)
        return
    for result in per_window(model, files, spec, len(scorer.labels), scorer.score, batch_size, workers,
                             on_progress):
        if isinstance(result, FailedInput):
            yield result
        else:
            yield FrameScores(result.source, scorer.labels, result.starts, result.ends, result.rows, result.duration)


