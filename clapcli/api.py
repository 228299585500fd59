"""The Python API under the ``clap`` command.

    >>> from clapcli.api import load_model, classify, embed_audio, embed_text
    >>> model = load_model("laion/clap-htsat-unfused")          # once; device/dtype chosen for you
    >>> classify(model, ["dog.wav"], ["dog barking", "rain"])[0].top
    Prediction(label='dog barking', score=0.97)
    >>> embed_audio(model, [samples], sample_rate=44100)[0].vector.shape
    (512,)

Inputs are paths (files, directories, globs) or in-memory arrays (mono or (channels, samples))
at ``sample_rate``; images (PIL) for image-text models. ``retrieve`` searches a library
(``clap embed --db``), an embed output file or a list of captions.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clapcli.core.classify import classify_media, prepare_labels
from clapcli.core.embed import embed_media, embed_texts
from clapcli.core.pipeline import ArrayInput, Source
from clapcli.core.retrieve import retrieve
from clapcli.errors import InputError, InvalidField
from clapcli.io.readers import expand_inputs
from clapcli.media.kinds import extensions_for
from clapcli.models.base import EmbeddingModel
from clapcli.models.loading import load_embedding_model as load_model
from clapcli.results import Classification, Embedding, FailedInput, Prediction

if TYPE_CHECKING:
    from clapcli.core.generate.generator import Generator

__all__ = [
    "Classification", "Embedding", "EmbeddingModel", "FailedInput", "Prediction", "classify", "embed_audio",
    "embed_images", "embed_text", "load_model", "open_generator", "retrieve",
]

FAILURES = ("raise", "keep")


def _sources(model: EmbeddingModel, inputs: Iterable[Any], sample_rate: int | None) -> list[Source]:
    sources: list[Source] = []
    for index, item in enumerate(inputs):
        if isinstance(item, (str, Path)):
            sources.extend(expand_inputs([str(item)], extensions_for(model.modality)))
        else:
            sources.append(ArrayInput(f"<input {index}>", item, sample_rate))
    return sources


def _collect(results: Iterable[Any], failures: str, skip_failures: bool) -> list[Any]:
    """Results in input order. ``failures="raise"``: the first failed input raises ``InputError``;
    ``"keep"``: a ``FailedInput`` stands in its place, so results line up with the inputs."""
    if failures not in FAILURES:
        raise InvalidField("failures", f"{{failures}} {failures!r}: choose 'raise' or 'keep'")
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


def embed_images(
    model: EmbeddingModel, inputs: Iterable[Any], normalize: bool = True, batch_size: int | None = None,
    skip_failures: bool = False, failures: str = "raise",
) -> list[Embedding | FailedInput]:
    """Embed images (paths or PIL images) with an image-text model such as AltCLIP."""
    return embed_audio(model, inputs, None, normalize, batch_size, skip_failures, failures)


def embed_text(model: EmbeddingModel, texts: Sequence[str], normalize: bool = True) -> list[Embedding]:
    return embed_texts(model, texts, normalize)


def classify(
    model: EmbeddingModel, inputs: Iterable[Any], labels: Sequence[str], template: str | None = None,
    top_k: int | None = None, sample_rate: int | None = None, skip_failures: bool = False, failures: str = "raise",
) -> list[Classification | FailedInput]:
    """Zero-shot classification, one result per input in order; label embeddings are computed once. A bad
    input raises ``InputError``, or with ``failures="keep"`` stands as a ``FailedInput`` in its place."""
    label_set = prepare_labels(model, labels, template)
    results = classify_media(model, _sources(model, inputs, sample_rate), label_set, top_k)
    return _collect(results, failures, skip_failures)


def open_generator(name: str | None = None, device: str = "auto", dtype: str = "auto",
                   cpu_offload: bool = False) -> Generator:
    """Load a generator (``clap generate``'s library): AudioLDM 2, Stable Audio Open or Stable Audio 3 (the
    family read from the checkpoint; a Stable Audio one has the same methods): ``open_generator(
    "cvssp/audioldm2").generate(["rain in a forest"], GenerationSettings(steps=20, seed=7))`` ->
    ``GeneratedAudio`` list (Stable Audio: ``samples`` is (n, channels) at 44.1 kHz)."""
    from clapcli.core.generate.generator import open_generator as _open

    return _open(name, device, dtype, cpu_offload)
