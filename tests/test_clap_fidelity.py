"""Our CLI equals transformers on the same weights and audio (docs/design.md §4)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from audio_fixtures import noise, speechlike, tone
from transformers import ClapModel, ClapProcessor, pipeline

LABELS = ["dog barking", "rain on roof", "piano music", "people talking"]


@pytest.fixture(scope="module")
def clips_48k(tmp_path_factory):
    """48 kHz float WAVs (no resampling, so both paths see identical samples), 0.5 s to 10 s."""
    directory = tmp_path_factory.mktemp("fidelity")
    signals = {
        "tone_10s.wav": tone(10.0, 48000, 330.0),
        "noise_3s.wav": noise(3.0, 48000, seed=3),
        "speech_1s.wav": speechlike(1.0, 48000),
        "short_0.5s.wav": tone(0.5, 48000, 1000.0) + noise(0.5, 48000, seed=4, amplitude=0.05),
    }
    for name, samples in signals.items():
        sf.write(directory / name, samples, 48000, subtype="FLOAT")
    return {name: directory / name for name in signals}


def test_classify_equals_zero_shot_pipeline(cli, tiny_clap, clips_48k):
    result = cli(["classify", *clips_48k.values(), "--labels", ",".join(LABELS), "-m", tiny_clap,
                  "--format", "json", "--top-k", "4", "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    ours = {row["path"]: {p["label"]: p["score"] for p in row["predictions"]} for row in json.loads(result.stdout)}
    classifier = pipeline("zero-shot-audio-classification", model=str(tiny_clap), device="cpu")
    for path in clips_48k.values():
        samples, _ = sf.read(path, dtype="float32")
        reference = {r["label"]: r["score"] for r in classifier(samples, candidate_labels=LABELS)}
        assert set(reference) == set(ours[str(path)])
        for label, score in reference.items():
            assert abs(score - ours[str(path)][label]) <= 1e-5, (path.name, label)


def test_embed_equals_get_audio_and_text_features(cli, tiny_clap, clips_48k, tmp_path):
    out = tmp_path / "e.jsonl"
    texts = ["a dog barking", "rain on a roof", "x"]
    args = ["embed", *clips_48k.values(), "-m", tiny_clap, "-o", out, "--device", "cpu"]
    for text in texts:
        args += ["--text", text]
    assert cli(args).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    ours_text = np.array([r["embedding"] for r in rows if r["kind"] == "text"])
    ours_audio = {r["path"]: np.array(r["embedding"]) for r in rows if r["kind"] == "audio"}

    model = ClapModel.from_pretrained(tiny_clap).eval()
    processor = ClapProcessor.from_pretrained(tiny_clap)
    with torch.inference_mode():
        tokens = processor(text=texts, return_tensors="pt", padding=True)
        reference_text = model.get_text_features(**tokens).pooler_output.numpy()
        np.testing.assert_allclose(ours_text, reference_text, atol=1e-5)
        for path in clips_48k.values():
            samples, _ = sf.read(path, dtype="float32")
            inputs = processor(audio=[samples], sampling_rate=48000, return_tensors="pt")
            reference = model.get_audio_features(**inputs).pooler_output[0].numpy()
            np.testing.assert_allclose(ours_audio[str(path)], reference, atol=1e-5)
    assert {r["model"] for r in rows} == {str(tiny_clap.resolve())}
    assert rows[-1]["duration"] == pytest.approx(0.5)


def test_long_audio_mean_is_mean_of_window_embeddings(loaded_clap):
    """25 s at 48 kHz -> 3 evenly spaced 10 s windows; the item embedding is their mean."""
    from clapcli.api import embed_audio

    samples = speechlike(25.0, 48000)
    whole = embed_audio(loaded_clap, [samples], sample_rate=48000, normalize=False)[0].vector
    starts = [0, 360000, 720000]  # evenly spaced; the last window ends at the end
    windows = [samples[s : s + 480000] for s in starts]
    parts = np.stack([e.vector for e in embed_audio(loaded_clap, windows, sample_rate=48000, normalize=False)])
    np.testing.assert_allclose(whole, parts.mean(axis=0), atol=1e-5)
    again = embed_audio(loaded_clap, [samples], sample_rate=48000, normalize=False)[0].vector
    np.testing.assert_array_equal(whole, again)  # deterministic: no random crops


@pytest.mark.parametrize("strategy, start", [("head", 0), ("center", 180000)])
def test_head_and_center_strategies(tiny_clap, strategy, start):
    from clapcli.api import embed_audio, load_model

    model = load_model(str(tiny_clap), device="cpu", long_audio=strategy)
    samples = noise(17.5, 48000, seed=9)
    got = embed_audio(model, [samples], sample_rate=48000)[0].vector
    expected = embed_audio(model, [samples[start : start + 480000]], sample_rate=48000)[0].vector
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_fused_checkpoint_short_and_long(tiny_clap_fused):
    """Fused models: short clips equal get_audio_features; long clips use deterministic fusion."""
    from clapcli.api import embed_audio, load_model

    model = load_model(str(tiny_clap_fused), device="cpu")
    assert model.long_audio == "fusion"
    short = tone(4.0, 48000)
    ours = embed_audio(model, [short], sample_rate=48000)[0].vector
    reference_model = ClapModel.from_pretrained(tiny_clap_fused).eval()
    processor = ClapProcessor.from_pretrained(tiny_clap_fused)
    with torch.inference_mode():
        inputs = processor(audio=[short], sampling_rate=48000, return_tensors="pt")
        inputs["is_longer"][:] = False  # the extractor flags a random clip as longer; inference must not
        reference = reference_model.get_audio_features(**inputs).pooler_output[0].numpy()
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    long = speechlike(23.0, 48000)
    first = embed_audio(model, [long], sample_rate=48000)[0].vector
    second = embed_audio(model, [long], sample_rate=48000)[0].vector
    np.testing.assert_array_equal(first, second)
    assert np.isfinite(first).all() and abs(np.linalg.norm(first) - 1) < 1e-5


def test_resampled_input_matches_array_api(loaded_clap, audio_files):
    """A 44.1 kHz stereo file through the CLI path equals its decoded samples through the API."""
    from clapcli.api import embed_audio
    from clapcli.audio.decode import load_audio

    from_file = embed_audio(loaded_clap, [str(audio_files["wav_stereo_44k"])])[0]
    decoded = load_audio(audio_files["wav_stereo_44k"], 48000).samples
    from_array = embed_audio(loaded_clap, [decoded], sample_rate=48000)[0]
    np.testing.assert_allclose(from_file.vector, from_array.vector, atol=1e-6)
    assert from_file.duration == pytest.approx(2.0)
