"""clap embed (files, texts, --db) and clap retrieve with PE-Audio: vectors equal transformers' own."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
from pe_models import reference_forward


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.atleast_2d(matrix).astype(np.float64)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _embed(cli, model: Path, *args) -> dict[str, np.ndarray]:
    result = cli(["embed", *args, "--model", model, "--format", "jsonl", "--runtime", "torch"])
    assert result.exit_code == 0, result.stderr
    return {row.get("path") or row.get("text"): np.array(row["embedding"]) for row in _jsonl(result.stdout)}


def test_audio_vectors_equal_the_forward_pass(cli, tiny_pe, pe_clips) -> None:
    paths = list(pe_clips.values())
    _, audio, _ = reference_forward(tiny_pe, paths, ["a dog"])
    raw = _embed(cli, tiny_pe, *paths, "--no-normalize")
    unit = _embed(cli, tiny_pe, *paths)
    for path, expected in zip(paths, audio):
        np.testing.assert_allclose(raw[str(path)], expected.numpy(), atol=1e-5)
        np.testing.assert_allclose(unit[str(path)], _unit(expected.numpy())[0], atol=1e-5)


def test_text_vectors_equal_text_audio_embeds(cli, tiny_pe, pe_clips) -> None:
    texts = ["dog barking", "rain on roof"]
    _, _, expected = reference_forward(tiny_pe, [pe_clips["tone"]], texts)
    got = _embed(cli, tiny_pe, "--text", texts[0], "--text", texts[1], "--no-normalize")
    np.testing.assert_allclose(np.stack([got[t] for t in texts]), expected.numpy(), atol=1e-5)


def test_a_batch_of_different_lengths_equals_one_file_at_a_time(cli, tiny_pe, pe_clips) -> None:
    """The front end ignores padding_mask: clips of different lengths must never share a padded batch."""
    paths = list(pe_clips.values())
    together = _embed(cli, tiny_pe, *paths, "--no-normalize", "--batch-size", "8")
    for path in paths:
        alone = _embed(cli, tiny_pe, path, "--no-normalize", "--batch-size", "1")
        np.testing.assert_allclose(together[str(path)], alone[str(path)], atol=1e-5)


def test_library_and_text_to_audio_retrieval(cli, tiny_pe, pe_clips, tmp_path: Path) -> None:
    paths = list(pe_clips.values())
    _, audio, text = reference_forward(tiny_pe, paths, ["a siren"])
    db = tmp_path / "pe.db"
    result = cli(["embed", *paths, "--db", db, "--model", tiny_pe, "--runtime", "torch"])
    assert result.exit_code == 0, result.stderr
    connection = sqlite3.connect(db)
    try:
        stored = dict(connection.execute("SELECT path, vector FROM items").fetchall())
    finally:
        connection.close()
    for path, expected in zip(paths, audio):
        vector = np.frombuffer(stored[str(path.resolve())], dtype=np.float32)
        np.testing.assert_allclose(vector, _unit(expected.numpy())[0], atol=1e-5)
    result = cli(["retrieve", "a siren", "--db", db, "-k", "3", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    hits = json.loads(result.stdout)
    cosines = _unit(np.stack([a.numpy() for a in audio])) @ _unit(text.numpy())[0]
    order = np.argsort(-cosines, kind="stable")
    assert [Path(h["path"]).name for h in hits] == [paths[i].name for i in order]
    np.testing.assert_allclose([h["score"] for h in hits], cosines[order], atol=1e-5)


def test_long_audio_is_the_mean_of_full_windows(cli, tiny_pe, pe_clips, monkeypatch) -> None:
    """Beyond the longest clip a file is cut into windows by --long-audio (mean: evenly spaced full windows)."""
    import soundfile as sf
    import torch
    from transformers import PeAudioFeatureExtractor, PeAudioModel

    import clapcli.models.pe_windows as pe_windows
    from clapcli.audio.windows import window_starts

    monkeypatch.setattr(pe_windows, "MAX_SECONDS", 0.8)
    size = int(0.8 * 48_000)
    samples, _ = sf.read(pe_clips["noise"], dtype="float32")
    model = PeAudioModel.from_pretrained(tiny_pe).eval()
    extractor = PeAudioFeatureExtractor.from_pretrained(tiny_pe)
    with torch.no_grad():
        windows = [model.get_audio_embeds(**extractor(samples[s : s + size], sampling_rate=48_000,
                                                      return_tensors="pt"))[0].numpy()
                   for s in window_starts(len(samples), size, "mean")]
    assert len(windows) == 3
    got = _embed(cli, tiny_pe, pe_clips["noise"], "--no-normalize", "--batch-size", "2")
    np.testing.assert_allclose(got[str(pe_clips["noise"])], np.mean(windows, axis=0), atol=1e-5)
    head = _embed(cli, tiny_pe, pe_clips["noise"], "--no-normalize", "--long-audio", "head")
    np.testing.assert_allclose(head[str(pe_clips["noise"])], windows[0], atol=1e-5)
