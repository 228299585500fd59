"""The Python API under the ``clap`` command (``import clapcli`` exposes the same names).

    >>> import clapcli
    >>> model = clapcli.load_model("laion/clap-htsat-unfused")   # once; device and runtime chosen for you
    >>> clapcli.classify(model, ["dog.wav"], ["dog barking", "rain"])[0].top
    Prediction(label='dog barking', score=0.97)

Inputs are paths (files, directories, globs) or in-memory arrays (mono or (channels, samples)) at
``sample_rate``; images (PIL) for image-text models. Every list result lines up with its inputs: a bad
input raises ``InputError``, or with ``failures="keep"`` a ``FailedInput`` stands in its place; the
``iter_*`` forms stream results for inputs too big to hold. ``to_dict()`` on a result gives the record
the command writes with ``--format json``. docs/api.md has worked examples (run by the tests).
"""

from __future__ import annotations

from clapcli.api._media import (
    classify,
    embed_audio,
    embed_images,
    embed_text,
    iter_classify,
    iter_embed_audio,
    open_generator,
)
from clapcli.api._probes import Probe, load_probe, train_probe
from clapcli.api._tasks import Detection, Library, detect, evaluate, generate, iter_detect
from clapcli.core.retrieve import retrieve
from clapcli.models.base import EmbeddingModel
from clapcli.models.loading import load_embedding_model as load_model
from clapcli.results import Classification, Embedding, Event, FailedInput, Prediction

__all__ = [
    "Classification", "Detection", "Embedding", "EmbeddingModel", "Event", "FailedInput", "Library", "Prediction",
    "Probe", "classify", "detect", "embed_audio", "embed_images", "embed_text", "evaluate", "generate",
    "iter_classify", "iter_detect", "iter_embed_audio", "load_model", "load_probe", "open_generator", "retrieve",
    "train_probe",
]
