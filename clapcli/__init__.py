"""clapcli: audio-text embeddings, zero-shot classification, retrieval and generation.

The Python API (``clapcli.api``) is importable from here: ``clapcli.load_model``, ``clapcli.classify``,
``clapcli.embed_audio``, ``clapcli.retrieve``... It is loaded on first use, so ``import clapcli`` (and
``clap --help``) stay light; the ``clap`` command is a thin layer over the same functions.
"""

from __future__ import annotations

from typing import Any

from clapcli.version import __version__

_API = (
    "Classification", "Detection", "Embedding", "EmbeddingModel", "Event", "FailedInput", "Library", "Prediction",
    "Probe", "classify", "detect", "embed_audio", "embed_images", "embed_text", "evaluate", "generate",
    "iter_classify", "iter_detect", "iter_embed_audio", "load_model", "load_probe", "open_generator", "retrieve",
    "train_probe",
)
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from clapcli import api

        return getattr(api, name)
    raise AttributeError(f"module 'clapcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
