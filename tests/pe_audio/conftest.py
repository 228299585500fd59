"""Fixtures for Perception Encoder Audio: tiny random checkpoints and 48 kHz clips of different lengths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pe_models import build_tiny_pe_audio, build_tiny_pe_av, write_clips  # noqa: E402


@pytest.fixture(scope="session")
def tiny_pe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pe_audio(tmp_path_factory.mktemp("models") / "tiny-pe-audio")


@pytest.fixture(scope="session")
def tiny_pe_frame(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pe_audio(tmp_path_factory.mktemp("models") / "tiny-pe-frame", frame_level=True, seed=1)


@pytest.fixture(scope="session")
def pe_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """48 kHz mono WAVs of different lengths (none a multiple of the 1920-sample hop)."""
    return write_clips(tmp_path_factory.mktemp("pe-clips"))


@pytest.fixture(scope="session")
def tiny_pe_av(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a pe_audio_video checkpoint, the PeAudioModel holding the same audio-text weights)."""
    root = tmp_path_factory.mktemp("models")
    return build_tiny_pe_av(root / "tiny-pe-av", root / "tiny-pe-av-reference")
