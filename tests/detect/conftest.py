"""Detection tests: the deterministic band model (fake_model.py) behind the real CLI, and tone files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))

from fake_model import LABELS, RATE, SCENE, FakeBandModel, tone_track  # noqa: E402,F401


@pytest.fixture()
def fake_model(monkeypatch: pytest.MonkeyPatch) -> FakeBandModel:
    """Every ``clap detect`` in the test runs on the band model."""
    model = FakeBandModel()
    monkeypatch.setattr("clapcli.console.common.ModelOptions.load", lambda self, *_args: model)
    return model


@pytest.fixture(scope="session")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("scenes")
    scene = directory / "scene.wav"
    sf.write(scene, tone_track(SCENE, 12.0), RATE, subtype="FLOAT")
    other = directory / "sub" / "other.flac"
    other.parent.mkdir()
    sf.write(other, tone_track([("high tone", 1.0, 3.0)], 4.0), RATE)
    stereo44 = directory / "stereo44.wav"  # another rate and two channels: resampled, downmixed
    mono = tone_track([("low tone", 1.0, 2.5)], 4.0, rate=44100)
    sf.write(stereo44, __import__("numpy").stack([mono, mono], axis=1), 44100, subtype="FLOAT")
    broken = directory / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt not really")
    return {"scene": scene, "other": other, "stereo44": stereo44, "broken": broken, "dir": directory}
