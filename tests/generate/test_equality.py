"""Our generate path vs diffusers' AudioLDM2Pipeline on the same weights (docs/design.md §4).

diffusers cannot run its pipeline with a ``GPT2Model`` on transformers >= 4.50, so the reference gets a
``GPT2LMHeadModel`` holding the same weights; everything else is shared. Same seed -> same waveform.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from clapcli.core.generate import GenerationSettings
from clapcli.core.generate.schedulers import make_scheduler
from clapcli.models.audioldm2.language_model import generate_hidden_states

from .conftest import SECONDS, STEPS

PROMPT = "heavy rain falls in a dense forest"


def reference_audio(reference, generator, scheduler: str, **kwargs) -> np.ndarray:
    reference.scheduler = make_scheduler(scheduler, generator.base_scheduler_config)
    seed = kwargs.pop("seed")
    return reference(PROMPT, audio_length_in_s=SECONDS, num_inference_steps=STEPS,
                     generator=torch.Generator().manual_seed(seed), **kwargs).audios


def ours(generator, **kwargs) -> list[np.ndarray]:
    settings = GenerationSettings(steps=STEPS, seconds=SECONDS, **kwargs)
    [audio] = generator.generate(PROMPT, settings)
    return [audio.samples, *audio.alternatives]


def test_language_model_loop_matches_generation_mixin(generator, reference):
    """Our 8-step GPT-2 loop equals diffusers' GenerationMixin-driven one, padding mask included."""
    torch.manual_seed(1)
    embeds = torch.randn(2, 7, generator.pipe.language_model.config.n_embd)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 1, 1]])
    with torch.no_grad():
        expected = reference.generate_language_model(embeds, attention_mask=mask, max_new_tokens=8)
        got = generate_hidden_states(generator.pipe.language_model, embeds, mask, 8)
    assert got.shape == (2, 8, embeds.shape[-1])
    assert torch.max(torch.abs(got - expected)).item() <= 1e-6


@pytest.mark.parametrize("scheduler", ["ddim", "dpm"])
def test_waveform_equals_pipeline(generator, reference, scheduler):
    expected = reference_audio(reference, generator, scheduler, seed=3)
    [got] = ours(generator, seed=3, scheduler=scheduler)
    assert got.shape == expected[0].shape == (int(SECONDS * 16000),)
    assert np.abs(expected[0]).max() > 1e-3  # a real signal, not silence
    assert np.max(np.abs(got - expected[0])) <= 1e-6


def test_negative_prompt_and_no_guidance_equal_pipeline(generator, reference):
    expected = reference_audio(reference, generator, "ddim", seed=5, negative_prompt="low quality")
    [got] = ours(generator, seed=5, scheduler="ddim", negative="low quality")
    assert np.max(np.abs(got - expected[0])) <= 1e-6
    plain = ours(generator, seed=5, scheduler="ddim")[0]
    assert np.max(np.abs(plain - got)) > 1e-4  # the negative prompt changes the result
    expected = reference_audio(reference, generator, "ddim", seed=5, guidance_scale=1.0)
    [got] = ours(generator, seed=5, scheduler="ddim", guidance=1.0)
    assert np.max(np.abs(got - expected[0])) <= 1e-6


def test_candidates_ranked_like_pipeline(generator, reference):
    """Best of 3 by CLAP score: same waveforms in the same order as the pipeline's own ranking."""
    for seed in range(1, 8):  # a seed whose best candidate is not the first one, so ranking shows
        settings = GenerationSettings(steps=STEPS, seconds=SECONDS, seed=seed, candidates=3, scheduler="ddim")
        [audio] = generator.generate(PROMPT, settings)
        if audio.candidate != 0:
            break
    assert audio.candidate != 0
    expected = reference_audio(reference, generator, "ddim", seed=seed, num_waveforms_per_prompt=3)
    got = np.stack([audio.samples, *audio.alternatives])
    assert np.max(np.abs(got - expected)) <= 1e-6
    assert len(audio.candidate_scores) == 3
    assert audio.score == pytest.approx(max(audio.candidate_scores), abs=1e-6)
    assert audio.candidate_scores[audio.candidate] == pytest.approx(audio.score, abs=1e-6)
