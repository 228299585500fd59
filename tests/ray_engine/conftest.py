"""Ray engine tests: one local Ray (2 CPUs, no dashboard) for the whole session; skipped without clapcli[ray]."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ray_local():
    ray = pytest.importorskip("ray", reason="needs the optional extra: pip install 'clapcli[ray]'")
    pytest.importorskip("ray.data")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def ray_inputs(tmp_path_factory: pytest.TempPathFactory, audio_files: dict[str, Path],
               broken_files: dict[str, Path]) -> dict[str, Path]:
    """One directory of good files in every format (m4a goes through the PyAV temp-file fallback),
    one clip longer than the model window, and broken files in a subdirectory."""
    from audio_fixtures import noise, write_soundfile

    root = tmp_path_factory.mktemp("ray-inputs") / "audio"
    (root / "broken").mkdir(parents=True)
    files = {}
    for name, path in audio_files.items():
        files[name] = Path(shutil.copy(path, root / path.name))
    files["long"] = write_soundfile(root / "long_noise.flac", noise(23.0, 16000, seed=3), 16000)
    for name, path in broken_files.items():
        files[f"broken_{name}"] = Path(shutil.copy(path, root / "broken" / path.name))
    files["broken_dangling_link"] = root / "broken" / "dangling_link.wav"  # Ray's listing skips these silently
    files["broken_dangling_link"].symlink_to(root / "deleted.wav")
    return files
