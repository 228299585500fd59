"""The generation library: seeds, lengths, batches, failures, ranking, loading errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from clapcli.core.generate import GenerationSettings, open_generator
from clapcli.errors import InputError, MissingDependencyError, ModelLoadError, UsageError

from .conftest import SECONDS, STEPS


def settings(**kwargs) -> GenerationSettings:
    return GenerationSettings(**{"steps": STEPS, "seconds": SECONDS, "seed": 0, **kwargs})


def test_same_seed_same_samples_other_seed_differs(generator):
    [a] = generator.generate("a dog barking", settings(seed=42))
    [b] = generator.generate("a dog barking", settings(seed=42))
    [c] = generator.generate("a dog barking", settings(seed=43))
    assert a.samples.dtype == np.float32 and a.sample_rate == 16000
    assert np.array_equal(a.samples, b.samples)
    assert np.max(np.abs(a.samples - c.samples)) > 1e-3
    assert a.metadata()["seed"] == 42 and a.metadata()["steps"] == STEPS


def test_random_seed_is_reported_and_reproduces(generator):
    [first] = generator.generate("wind", settings(seed=None))
    [again] = generator.generate("wind", settings(seed=first.seed))
    assert np.array_equal(first.samples, again.samples)


def test_batch_equals_single_prompt_runs(generator):
    """Each prompt draws its latents from its own seeded generator: batching does not change results."""
    both = generator.generate(["a dog barking", "rain on a roof"], settings(seed=9))
    alone = [generator.generate(p, settings(seed=9))[0] for p in ("a dog barking", "rain on a roof")]
    assert [r.prompt for r in both] == ["a dog barking", "rain on a roof"]
    for batched, single in zip(both, alone):
        assert np.max(np.abs(batched.samples - single.samples)) <= 1e-5


@pytest.mark.parametrize("seconds", [0.32, 0.5, 1.37])
def test_length_any_supported_seconds(generator, seconds):
    [audio] = generator.generate("a bell", settings(seconds=seconds))
    assert len(audio.samples) == int(seconds * 16000)


def test_default_length_is_the_training_length(generator):
    # tiny UNet sample_size 16 x VAE factor 2 x 10 ms per frame; 10.24 s for the released checkpoints
    assert generator.default_seconds == pytest.approx(0.32)
    assert generator.check(GenerationSettings()).seconds == pytest.approx(0.32)


@pytest.mark.parametrize("seconds,message", [
    (-1.0, "positive"), (0.0, "positive"), (float("nan"), "positive"), (0.01, "minimum"), (2.5, "longer than"),
])
def test_bad_seconds(generator, seconds, message):
    with pytest.raises(UsageError, match=message):
        generator.check(settings(seconds=seconds))


@pytest.mark.parametrize("field,value,message", [
    ("steps", 0, "^steps "), ("candidates", 0, "^candidates "), ("candidates", 99, "^candidates "),
    ("guidance", -1.0, "^guidance "), ("scheduler", "bogus", "^scheduler "), ("seed", -5, "^seed "),
    ("transcription", "hello", "text-to-speech"),
])
def test_bad_settings(generator, field, value, message):
    with pytest.raises(UsageError, match=message):
        generator.check(settings(**{field: value}))


def test_empty_prompt(generator):
    with pytest.raises(InputError, match="empty"):
        generator.generate("   ", settings())


def test_failing_prompt_does_not_lose_the_others(generator, exploding_prompts):
    prompts = ["a dog barking", "explode please", "", "rain on a roof"]
    results = list(generator.generate_many(prompts, settings(), batch_size=4))
    assert [type(r).__name__ for r in results] == ["GeneratedAudio", "FailedInput", "FailedInput", "GeneratedAudio"]
    assert results[1].reason == "RuntimeError: boom" and "empty" in results[2].reason
    [alone] = generator.generate("rain on a roof", settings())
    assert np.max(np.abs(results[3].samples - alone.samples)) <= 1e-5


def test_stochastic_scheduler_is_seeded_per_prompt(generator):
    both = generator.generate(["a dog barking", "rain"], settings(scheduler="euler-a", seed=4))
    [alone] = generator.generate("rain", settings(scheduler="euler-a", seed=4))
    assert np.array_equal(both[1].samples, alone.samples)


def test_every_scheduler_runs(generator):
    from clapcli.core.generate import SCHEDULERS

    for name in SCHEDULERS:
        [audio] = generator.generate("a bell", settings(scheduler=name))
        assert np.isfinite(audio.samples).all() and np.abs(audio.samples).max() > 0, name


def test_ranking_never_skipped_without_librosa(generator, monkeypatch):
    monkeypatch.setitem(sys.modules, "librosa", None)  # import librosa -> ImportError
    with pytest.raises(MissingDependencyError, match="librosa"):
        generator.generate("a bell", settings(candidates=2))
    with pytest.raises(MissingDependencyError):  # not swallowed as a per-prompt failure either
        list(generator.generate_many(["a bell"], settings(candidates=2)))


def test_long_audio_scored_deterministically_over_windows(generator):
    """Past CLAP's 10 s window the score is the mean over windows (clap embed's rule), never a random crop."""
    from clapcli.core.generate.scoring import clap_scores

    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((2, 16000 * 23))).astype(np.float32)
    pipe = generator.pipe
    first = clap_scores(pipe, "noise", audio, 16000, generator.device, pipe.text_encoder.dtype)
    second = clap_scores(pipe, "noise", audio, 16000, generator.device, pipe.text_encoder.dtype)
    assert np.array_equal(first, second)
    head = clap_scores(pipe, "noise", audio[:, :160000], 16000, generator.device, pipe.text_encoder.dtype)
    assert not np.allclose(first, head)  # all three windows count, not just the head


def test_cpu_offload_needs_cuda(tiny_audioldm2):
    with pytest.raises(UsageError, match="^cpu_offload "):
        open_generator(str(tiny_audioldm2), device="cpu", cpu_offload=True)


def test_not_a_pipeline(tmp_path: Path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "clap"}))
    with pytest.raises(ModelLoadError, match="not a text-to-audio pipeline"):
        open_generator(str(tmp_path), device="cpu")


def test_missing_directory():
    with pytest.raises(ModelLoadError, match="does not exist"):
        open_generator("./no/such/model", device="cpu")


def test_candidate_scores_equal_the_pipelines_clap_on_short_audio(generator):
    """Scoring goes through clapcli's LAION backend; on clips within one window it equals the
    pipeline's own CLAP (its feature extractor and ClapModel forward), as score_waveforms computes."""
    import torch

    from clapcli.core.generate.scoring import clap_scores

    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal((3, 16000 * 4))).astype(np.float32)
    pipe = generator.pipe
    ours = clap_scores(pipe, "rain", audio, 16000, generator.device, pipe.text_encoder.dtype)
    import librosa

    resampled = librosa.resample(audio, orig_sr=16000, target_sr=pipe.feature_extractor.sampling_rate)
    inputs = pipe.tokenizer(["rain"], return_tensors="pt", padding=True)
    inputs["input_features"] = pipe.feature_extractor(
        list(resampled), return_tensors="pt", sampling_rate=pipe.feature_extractor.sampling_rate).input_features
    with torch.no_grad():
        logits = pipe.text_encoder(**inputs).logits_per_text[0].numpy()
    reference = logits / float(pipe.text_encoder.logit_scale_t.exp())
    np.testing.assert_allclose(ours, reference, atol=1e-4)
