"""Fixtures for image-text models: tiny AltCLIP and CLIP checkpoints, images in every format and mode."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from altclip_models import build_tiny_altclip, build_tiny_clip  # noqa: E402
from image_fixtures import build_broken_images, build_image_set, write_wav  # noqa: E402


@pytest.fixture(scope="session")
def tiny_altclip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random ``AltCLIPModel`` + ``AltCLIPProcessor`` (XLM-R-style Unigram tokenizer)."""
    return build_tiny_altclip(tmp_path_factory.mktemp("models") / "tiny-altclip")


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random ``CLIPModel`` + ``CLIPProcessor``."""
    return build_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="session")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good images: every format and mode ``load_image`` supports (name -> path)."""
    return build_image_set(tmp_path_factory.mktemp("images") / "photos")


@pytest.fixture(scope="session")
def sound_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("sounds")
    import soundfile as sf

    wav = write_wav(directory / "tone.wav")
    samples, rate = sf.read(wav, dtype="float32")
    sf.write(directory / "tone.flac", samples, rate)
    return {"wav": wav, "flac": directory / "tone.flac"}


@pytest.fixture(scope="session")
def broken_images(tmp_path_factory: pytest.TempPathFactory, sound_files: dict[str, Path]) -> dict[str, Path]:
    return build_broken_images(tmp_path_factory.mktemp("images") / "broken", sound_files["wav"],
                               sound_files["flac"])


@pytest.fixture(scope="session")
def loaded_altclip(tiny_altclip: Path):
    from clapcli.models.loading import load_embedding_model

    return load_embedding_model(str(tiny_altclip), device="cpu")


@pytest.fixture(scope="session")
def reference_altclip(tiny_altclip: Path):
    """The same checkpoint through transformers directly: (AltCLIPModel, AltCLIPProcessor)."""
    from transformers import AltCLIPModel, AltCLIPProcessor

    return AltCLIPModel.from_pretrained(tiny_altclip).eval(), AltCLIPProcessor.from_pretrained(tiny_altclip)
