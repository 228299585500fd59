"""Embedding and zero-shot classification of audio, images and text (lists, or streams for big inputs)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clapcli.core.classify import classify_media, prepare_labels
from clapcli.core.embed import embed_media, embed_texts
from clapcli.core.pipeline import ArrayInput, Source
from clapcli.errors import InputError, InvalidField
from clapcli.io.readers import expand_inputs
from clapcli.media.kinds import extensions_for
from clapcli.models.base import EmbeddingModel
from clapcli.results import Classification, Embedding, FailedInput

if TYPE_CHECKING:
    from collections.abc import Iterator

    from clapcli.core.generate.generator import Generator
    from clapcli.core.probe.model import Probe

FAILURES = ("raise", "keep")


def _sources(model: EmbeddingModel, inputs: Iterable[Any], sample_rate: int | None) -> list[Source]:
    sources: list[Source] = []
    for index, item in enumerate(inputs):
        if isinstance(item, (str, Path)):
            sources.extend(expand_inputs([str(item)], extensions_for(model.modality)))
        else:
            sources.append(ArrayInput(f"<input {index}>", item, sample_rate))
    return sources


def check_failures(failures: str) -> None:
    if failures not in FAILURES:
        raise InvalidField("failures", f"{{failures}} {failures!r}: choose 'raise' or 'keep'")


def in_place(results: Iterable[Any], failures: str) -> Iterator[Any]:
    """Results as they come, in input order: a ``FailedInput`` kept in its place or raised as ``InputError``."""
    for result in results:
        if isinstance(result, FailedInput) and failures == "raise":
            raise InputError(f"{result.source}: {result.reason}")
        yield result


def _collect(results: Iterable[Any], failures: str, skip_failures: bool) -> list[Any]:
    """Results in input order. ``failures="raise"``: the first failed input raises ``InputError``;
    ``"keep"``: a ``FailedInput`` stands in its place, so results line up with the inputs."""
    check_failures(failures)
    if skip_failures:
        warnings.warn("skip_failures=True drops failed inputs, so results no longer line up with the inputs; "
                      "pass failures='keep' (a FailedInput in each failed input's place). skip_failures goes in "
                      "0.3.0", DeprecationWarning, stacklevel=3)
    kept = []
    for result in results:
        if isinstance(result, FailedInput):
            if skip_failures:
                continue
            if failures == "raise":
                raise InputError(f"{result.source}: {result.reason}")
        kept.append(result)
    return kept


def embed_audio(
    model: EmbeddingModel, inputs: Iterable[Any], sample_rate: int | None = None, normalize: bool = True,
    batch_size: int | None = None, skip_failures: bool = False, failures: str = "raise",
) -> list[Embedding | FailedInput]:
    """Embed audio (or images, for image-text models), one result per input file or array, in order.
    A bad input raises ``InputError``, or with ``failures="keep"`` stands as a ``FailedInput`` in its place."""
    results = embed_media(model, _sources(model, inputs, sample_rate), normalize, batch_size)
    return _collect(results, failures, skip_failures)


def iter_embed_audio(
    model: EmbeddingModel, inputs: Iterable[Any], sample_rate: int | None = None, normalize: bool = True,
    batch_size: int | None = None, failures: str = "raise",
) -> Iterator[Embedding | FailedInput]:
    """``embed_audio`` as a stream: each result as soon as its batch is done, in input order, so a
    directory of 100,000 files never holds more than a batch in memory. Results carry their input in
    ``.source``; pair by that, never by counting."""
    check_failures(failures)  # here, not at the first next(): a wrong argument fails where it is written
    return in_place(embed_media(model, _sources(model, inputs, sample_rate), normalize, batch_size), failures)


def embed_images(
    model: EmbeddingModel, inputs: Iterable[Any], normalize: bool = True, batch_size: int | None = None,
    skip_failures: bool = False, failures: str = "raise",
) -> list[Embedding | FailedInput]:
    """Embed images (paths or PIL images) with an image-text model such as AltCLIP."""
    return embed_audio(model, inputs, None, normalize, batch_size, skip_failures, failures)


def embed_text(model: EmbeddingModel, texts: Sequence[str], normalize: bool = True) -> list[Embedding]:
    return embed_texts(model, texts, normalize)


def classify(
    model: EmbeddingModel, inputs: Iterable[Any], labels: Sequence[str] | None = None, template: str | None = None,
    top_k: int | None = None, sample_rate: int | None = None, skip_failures: bool = False, failures: str = "raise",
    scoring: str | None = None, threshold: float | None = None, probe: Probe | None = None,
) -> list[Classification | FailedInput]:
    """Zero-shot classification, one result per input in order; label embeddings are computed once. A bad
    input raises ``InputError``, or with ``failures="keep"`` stands as a ``FailedInput`` in its place.
    ``scoring``: "softmax" or "sigmoid" (None: the model's); ``threshold``: keep labels scoring at least it.
    ``probe`` (``load_probe``/``train_probe``) instead of ``labels``: its classes and probabilities."""
    sources = _sources(model, inputs, sample_rate)
    results = (_with_probe(model, sources, probe, labels, top_k, None, template=template, scoring=scoring,
                           threshold=threshold) if probe is not None or labels is None else
               classify_media(model, sources, prepare_labels(model, labels, template, scoring), top_k,
                              threshold=threshold))
    return _collect(results, failures, skip_failures)


def _with_probe(model: EmbeddingModel, sources: list[Source], probe: Probe | None, labels: Any, top_k: int | None,
                batch_size: int | None, **text_options: Any) -> Iterator[Classification | FailedInput]:
    from clapcli.core.probe.classify import classify_with_probe

    check_probe_arguments(labels, probe, **text_options)
    assert probe is not None
    probe.check_model(model.model_id, model.embedding_dim, "probe")  # now, not at the first result
    return classify_with_probe(model, sources, probe, top_k, batch_size)


def iter_classify(
    model: EmbeddingModel, inputs: Iterable[Any], labels: Sequence[str] | None = None, template: str | None = None,
    top_k: int | None = None, sample_rate: int | None = None, batch_size: int | None = None, failures: str = "raise",
    probe: Probe | None = None,
) -> Iterator[Classification | FailedInput]:
    """``classify`` as a stream (see ``iter_embed_audio``); the labels are encoded once, before the first
    input is read (or ``probe`` scores its classes)."""
    check_failures(failures)
    sources = _sources(model, inputs, sample_rate)
    if probe is not None or labels is None:
        return in_place(_with_probe(model, sources, probe, labels, top_k, batch_size, template=template), failures)
    label_set = prepare_labels(model, labels, template)
    return in_place(classify_media(model, sources, label_set, top_k, batch_size), failures)


def check_probe_arguments(labels: object, probe: Probe | None, **text_options: object) -> None:
    """A probe brings its classes: labels (or a template, scoring, threshold...) beside it, or neither, are
    refused in one line."""
    if probe is None:
        if labels is None:
            raise InvalidField("labels", "give {labels} (zero-shot) or a trained probe (probe=load_probe(DIR))")
        return
    from clapcli.core.probe.model import Probe

    if not isinstance(probe, Probe):
        raise InvalidField("probe", "{probe} takes a Probe (clapcli.load_probe(DIR) or clapcli.train_probe(...)), "
                           f"not {type(probe).__name__}")
    given = [name for name, value in {"labels": labels, **text_options}.items() if value is not None]
    if given:
        raise InvalidField("probe", "{probe} gives the labels (its classes); drop " + ", ".join(given))


def open_generator(name: str | None = None, device: str = "auto", dtype: str = "auto",
                   cpu_offload: bool = False) -> Generator:
    """Load a generator (``clap generate``'s library): AudioLDM 2, Stable Audio Open or Stable Audio 3 (the
    family read from the checkpoint; a Stable Audio one has the same methods): ``open_generator(
    "cvssp/audioldm2").generate(["rain in a forest"], GenerationSettings(steps=20, seed=7))`` ->
    ``GeneratedAudio`` list (Stable Audio: ``samples`` is (n, channels) at 44.1 kHz)."""
    from clapcli.core.generate.generator import open_generator as _open

    return _open(name, device, dtype, cpu_offload)
