"""OpenVINO's compiled towers are cached under clapcli's home between runs, with the same numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clapcli.models.runtime import openvino_backend
from clapcli.models.runtime.model import load_export


def _embed(export: Path, clips: list[Path]) -> np.ndarray:
    from clapcli.audio.decode import load_audio

    model = load_export(export)
    audio = model.encode_prepared([model.prepare(load_audio(clips[1], model.sample_rate).samples)]).numpy()
    return np.concatenate([audio, model.encode_text(["a dog barking"]).numpy()])


def test_compiled_towers_are_cached_and_agree(exports, clips, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    first = _embed(exports["laion-clap", "openvino"], clips)
    cache = tmp_path / "home" / "openvino-cache"
    blobs = sorted(cache.iterdir())
    assert len(blobs) == 2  # the audio and the text tower
    second = _embed(exports["laion-clap", "openvino"], clips)
    np.testing.assert_array_equal(first, second)
    assert sorted(cache.iterdir()) == blobs  # served from the cache, not compiled again


def test_an_unwritable_home_runs_without_the_cache(exports, clips, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "writable"))
    cached = _embed(exports["laion-clap", "openvino"], clips)
    (tmp_path / "home").write_text("a file, not a directory")
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    assert openvino_backend.compile_cache() is None
    np.testing.assert_array_equal(_embed(exports["laion-clap", "openvino"], clips), cached)


def test_a_re_export_in_place_is_not_served_from_the_cache(exports, sources, clips, tmp_path, monkeypatch):
    """Towers are compiled by path (the cache then skips reading the IR): the key must still change when
    the files at that path do, or a re-export would run the old model's compiled graph."""
    import shutil

    from tiny_models import build_tiny_clap

    from clapcli.models.runtime.export import export_model

    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    target = tmp_path / "export"
    shutil.copytree(exports["laion-clap", "openvino"], target)
    before = _embed(target, clips)
    other = build_tiny_clap(tmp_path / "other-weights", seed=7)
    export_model(str(other), target, "openvino", overwrite=True)
    after = _embed(target, clips)
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "fresh-home"))  # no cache: the truth
    np.testing.assert_array_equal(after, _embed(target, clips))
    assert np.abs(after - before).max() > 1e-3
