"""Class folders of synthetic tones and a second tiny checkpoint, for the probe tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "eval"))  # eval_data: the tonal clip writer

from eval_data import write_clip  # noqa: E402
from tiny_models import build_tiny_clap  # noqa: E402

CLASSES = ["low_hum", "mid_tone", "high_whistle"]


@pytest.fixture(scope="session")
def tone_folders(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("probe") / "sounds"
    for index, name in enumerate(CLASSES):
        for take in range(6):
            write_clip(root / name / f"{take}.wav", 3 * index, 100 * index + take)
    return root


@pytest.fixture(scope="session")
def other_tiny_clap(tmp_path_factory) -> Path:
    return build_tiny_clap(tmp_path_factory.mktemp("models") / "tiny-clap-other", seed=1)
