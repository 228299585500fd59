"""``clap detect``'s windows and scorer from its options, every option error raised before a file is read:
sliding windows (a frame-level model has none and refuses their options), and the labels' scorer or a
probe's (``clap detect --probe``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clapcli.core.detect.scoring import LabelScorer, prepare_scorer, probe_scorer
from clapcli.core.windows import WindowSpec
from clapcli.errors import InvalidField, UsageError
from clapcli.models.base import EmbeddingModel


def prepare_detection(model: EmbeddingModel, labels: Sequence[str], probe: Any = None, window: float | None = None,
                      hop: float | None = None, mode: str | None = None, template: str | None = None,
                      background: str | None = None) -> tuple[WindowSpec, LabelScorer]:
    """(windows, scorer); ``probe`` given: its classes and probabilities instead of ``labels``."""
    if model.modality != "audio":
        raise UsageError(f"'{model.model_id}' is an image model; clap detect needs an audio model")
    spec = window_spec(model, window, hop, mode, background)
    if probe is None:
        return spec, prepare_scorer(model, labels, mode, template, background)
    if mode is not None or background is not None:
        raise InvalidField("probe", "{mode} and {background} are for text labels; a probe scores its own classes "
                           "(drop them, or drop {probe})")
    return spec, probe_scorer(model, probe)


def window_spec(model: EmbeddingModel, window: float | None, hop: float | None, mode: str | None,
                background: str | None) -> WindowSpec:
    """The sliding windows (checked against the model's rate); a frame-level model has none."""
    if model.frame_level:
        from clapcli.core.detect.frames import check_frame_options

        check_frame_options(model, window, hop, mode, background)
    spec = WindowSpec(window, hop)
    if not model.frame_level:
        spec.samples(model)
    return spec
