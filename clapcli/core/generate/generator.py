"""AudioLDM 2 text-to-audio on current transformers: denoise, rank, return ``GeneratedAudio``
(loading is ``clapcli.models.audioldm2``'s).

We reuse diffusers' components and its prompt encoding, but own the GPT-2 loop (``language_model``)
and the denoising loop, so that progress, per-prompt seeds, candidate ranking and failures are ours.
Every operation mirrors ``AudioLDM2Pipeline.__call__`` in the same order: given the same components
and seed, the waveform equals the pipeline's (tests/generate/test_equality.py).

One piece on purpose (~290 lines): the denoising loop, prompt encoding and candidate handling follow
the pipeline's ``__call__`` step by step, and keeping that order visible in one file is what lets a
reader check the equality against diffusers' code.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from clapcli.core.generate.common import (  # noqa: F401  (re-exported: the names callers know)
    MAX_CANDIDATES,
    GeneratedAudio,
    GenerationSettings,
    StepCallback,
    _prompt_problem,
    _reason,
    check_numbers,
    check_prompt,
)
from clapcli.core.generate.schedulers import DEFAULT_SCHEDULER, DEFAULT_STEPS, make_scheduler, scheduler_choice
from clapcli.core.generate.scoring import clap_scores, rank
from clapcli.errors import InvalidField, MissingDependencyError
from clapcli.models.audioldm2 import tts_dependency_error
from clapcli.results import FailedInput

DEFAULT_GUIDANCE = 3.5  # the pipeline's default
MAX_LENGTH_FACTOR = 6  # longest request: 6x the training length (61.4 s for the released checkpoints)
TTS_MAX_NEW_TOKENS = 512  # the TTS checkpoints need 512 generated embeddings (diffusers docs), not 8

class Generator:
    """A loaded AudioLDM 2 pipeline; ``generate`` turns prompts into audio."""

    def __init__(self, pipe: Any, model_id: str, is_tts: bool = False) -> None:
        self.pipe = pipe
        self.model_id = model_id
        self.is_tts = is_tts
        self.base_scheduler_config = pipe.scheduler.config
        vocoder = pipe.vocoder.config
        self.sample_rate = int(vocoder.sampling_rate)
        # Same float expression as the pipeline, so frame counts and cuts agree exactly.
        self._seconds_per_frame = np.prod(vocoder.upsample_rates) / vocoder.sampling_rate
        self._vae_scale = int(pipe.vae_scale_factor)

    # ------------------------------------------------------------------ lengths

    @property
    def device(self) -> torch.device:
        return self.pipe._execution_device

    @property
    def default_seconds(self) -> float:
        return float(self.pipe.unet.config.sample_size * self._vae_scale * self._seconds_per_frame)

    @property
    def min_seconds(self) -> float:
        return float(self._seconds_per_frame * self._vae_scale)

    @property
    def max_seconds(self) -> float:
        return round(self.default_seconds * MAX_LENGTH_FACTOR, 2)

    def frames(self, seconds: float) -> tuple[int, int]:
        """(mel frames rounded up to the VAE's multiple, samples kept), as the pipeline computes them."""
        height = int(seconds / self._seconds_per_frame)
        keep = int(seconds * self.sample_rate)
        if height % self._vae_scale != 0:
            height = int(np.ceil(height / self._vae_scale)) * self._vae_scale
        return height, keep

    # ------------------------------------------------------------------ checks

    def check(self, settings: GenerationSettings) -> GenerationSettings:
        """Validate options against this model; fill in steps, guidance, scheduler, seconds and seed."""
        for name in ("init_audio", "inpaint"):
            if getattr(settings, name) is not None:
                raise InvalidField(name, f"{{{name}}} needs a Stable Audio 3 model (AudioLDM 2 generates from "
                                   "text only)")
        settings = replace(settings, steps=DEFAULT_STEPS if settings.steps is None else settings.steps,
                           guidance=DEFAULT_GUIDANCE if settings.guidance is None else settings.guidance,
                           scheduler=settings.scheduler or DEFAULT_SCHEDULER)
        seconds = self.default_seconds if settings.seconds is None else float(settings.seconds)
        if not math.isfinite(seconds) or seconds <= 0:
            raise InvalidField("seconds", "{seconds} must be a positive number of seconds, got {value}",
                               value=settings.seconds)
        if seconds < self.min_seconds:
            raise InvalidField("seconds", "{seconds} {value:g} is shorter than this model's minimum of {low:g} s",
                               value=seconds, low=self.min_seconds)
        if seconds > self.max_seconds:
            raise InvalidField(
                "seconds", "{seconds} {value:g} is longer than this model supports ({high:g} s = {factor}x its "
                "{trained:g} s training length); generate shorter clips", value=seconds, high=self.max_seconds,
                factor=MAX_LENGTH_FACTOR, trained=self.default_seconds,
            )
        check_numbers(settings)
        scheduler_choice(settings.scheduler)
        self._check_transcription(settings.transcription)
        seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
        return replace(settings, seconds=seconds, seed=seed, scheduler=settings.scheduler.strip().lower())

    def _check_transcription(self, transcription: str | None) -> None:
        if self.is_tts and not (transcription and transcription.strip()):
            raise InvalidField("transcription", "model '{model_id}' is a text-to-speech checkpoint: give the words "
                               "to speak with {transcription} \"...\" (the prompt describes the voice)",
                               model_id=self.model_id)
        if not self.is_tts and transcription is not None:
            raise InvalidField("transcription", "{transcription} needs a text-to-speech checkpoint (e.g. {model} "
                               "tts-gigaspeech); '{model_id}' generates audio from the prompt alone",
                               model_id=self.model_id)

    def planned_steps(self, settings: GenerationSettings) -> int:
        """UNet passes per batch (Heun runs two per step), for progress bars."""
        scheduler = make_scheduler(settings.scheduler, self.base_scheduler_config)
        scheduler.set_timesteps(settings.steps)
        return len(scheduler.timesteps)

    # ------------------------------------------------------------------ generation

    def generate(self, prompts: list[str] | str, settings: GenerationSettings | None = None,
                 on_step: StepCallback | None = None) -> list[GeneratedAudio]:
        """One ``GeneratedAudio`` per prompt, all in one batch; raises on any failure."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        for prompt in prompts:
            check_prompt(prompt)
        settings = self.check(settings or GenerationSettings())
        if len(prompts) > 1 and scheduler_choice(settings.scheduler).stochastic:
            # A stochastic step draws noise from one generator: one prompt per batch keeps seeds per prompt.
            return [audio for prompt in prompts for audio in self._run([prompt], settings, on_step)]
        return self._run(prompts, settings, on_step)

    def generate_many(self, prompts: list[str], settings: GenerationSettings, batch_size: int = 1,
                      on_step: StepCallback | None = None) -> Iterator[GeneratedAudio | FailedInput]:
        """One result per prompt, in prompt order, generated in batches.

        A failing batch is retried prompt by prompt, so one bad prompt loses nothing else."""
        settings = self.check(settings)
        size = max(1, batch_size)
        for start in range(0, len(prompts), size):
            yield from self._batch_outcomes(prompts[start:start + size], settings, on_step)

    def _batch_outcomes(self, batch: list[str], settings: GenerationSettings, on_step: StepCallback | None
                        ) -> list[GeneratedAudio | FailedInput]:
        outcomes: list[GeneratedAudio | FailedInput | None] = [
            None if _prompt_problem(p) is None else FailedInput(p, str(_prompt_problem(p))) for p in batch
        ]
        todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
        groups = [todo] if todo else []
        while groups:
            group = groups.pop(0)
            try:
                for i, audio in zip(group, self.generate([batch[i] for i in group], settings, on_step)):
                    outcomes[i] = audio
            except (KeyboardInterrupt, MissingDependencyError):
                raise
            except Exception as exc:  # noqa: BLE001 - isolate the failing prompt: retry one by one
                if len(group) == 1:
                    outcomes[group[0]] = FailedInput(batch[group[0]], _reason(exc))
                else:
                    groups.extend([i] for i in group)
        return outcomes  # type: ignore[return-value]

    @torch.no_grad()
    def _run(self, prompts: list[str], settings: GenerationSettings, on_step: StepCallback | None
             ) -> list[GeneratedAudio]:
        n = settings.candidates
        generators = [torch.Generator("cpu").manual_seed(settings.seed) for _ in prompts]  # type: ignore[arg-type]
        audio = self._denoise(prompts, settings, generators, on_step)  # (prompts * n, samples)
        audio = audio.numpy().reshape(len(prompts), n, -1)
        return [self._pick(prompt, audio[i], settings) for i, prompt in enumerate(prompts)]

    def _denoise(self, prompts: list[str], settings: GenerationSettings, generators: list[torch.Generator],
                 on_step: StepCallback | None) -> torch.Tensor:
        from diffusers.utils.torch_utils import randn_tensor

        pipe, device, n = self.pipe, self.device, settings.candidates
        guided = settings.guidance > 1.0
        height, keep = self.frames(settings.seconds)  # type: ignore[arg-type]
        prompt_embeds, attention_mask, generated = self._encode(prompts, settings, guided)
        scheduler = make_scheduler(settings.scheduler, self.base_scheduler_config)
        scheduler.set_timesteps(settings.steps, device=device)
        shape = (n, pipe.unet.config.in_channels, height // self._vae_scale,
                 int(pipe.vocoder.config.model_in_dim) // self._vae_scale)
        latents = torch.cat([randn_tensor(shape, generator=g, device=device, dtype=prompt_embeds.dtype)
                             for g in generators])
        latents = latents * scheduler.init_noise_sigma
        step_kwargs = _step_kwargs(scheduler, generators[0])
        for t in scheduler.timesteps:
            model_input = torch.cat([latents] * 2) if guided else latents
            model_input = scheduler.scale_model_input(model_input, t)
            noise = pipe.unet(model_input, t, encoder_hidden_states=generated, encoder_hidden_states_1=prompt_embeds,
                              encoder_attention_mask_1=attention_mask, return_dict=False)[0]
            if guided:
                uncond, text = noise.chunk(2)
                noise = uncond + settings.guidance * (text - uncond)
            latents = scheduler.step(noise, t, latents, **step_kwargs).prev_sample
            if on_step is not None:
                on_step(1)
        pipe.maybe_free_model_hooks()
        mel = pipe.vae.decode(1 / pipe.vae.config.scaling_factor * latents).sample
        return pipe.mel_spectrogram_to_waveform(mel)[:, :keep]

    def _encode(self, prompts: list[str], settings: GenerationSettings, guided: bool):
        """Prompt conditioning for the batch, each prompt encoded on its own.

        Encoding a batch together pads the T5 tokens to the longest prompt, and GPT-2 then sees the
        padding at shifted positions: a prompt's audio would depend on its neighbours. Encoding each
        prompt alone (cheap next to denoising) keeps every result equal to a single-prompt run; only the
        T5 states are padded afterwards, under an attention mask, for the batched UNet."""
        parts = [self._encode_one(prompt, settings, guided) for prompt in prompts]
        if len(parts) == 1:
            return parts[0]
        halves = 2 if guided else 1
        embeds, masks, generated = [], [], []
        for half in range(halves):  # guided batches are [all negatives, all positives], like the pipeline
            for prompt_embeds, mask, gen in parts:
                size = prompt_embeds.shape[0] // halves
                embeds.append(prompt_embeds[half * size:(half + 1) * size])
                masks.append(mask[half * size:(half + 1) * size])
                generated.append(gen[half * size:(half + 1) * size])
        length = max(e.shape[1] for e in embeds)
        embeds = [torch.nn.functional.pad(e, (0, 0, 0, length - e.shape[1])) for e in embeds]
        masks = [torch.nn.functional.pad(m, (0, length - m.shape[1])) for m in masks]
        return torch.cat(embeds), torch.cat(masks), torch.cat(generated)

    def _encode_one(self, prompt: str, settings: GenerationSettings, guided: bool):
        tokens = settings.max_new_tokens or (TTS_MAX_NEW_TOKENS if self.is_tts else None)
        negative = [settings.negative] if guided and settings.negative else None
        transcription = [settings.transcription] if self.is_tts else None
        try:
            return self.pipe.encode_prompt([prompt], self.device, settings.candidates, guided,
                                           transcription=transcription, negative_prompt=negative,
                                           max_new_tokens=tokens)
        except (ImportError, RuntimeError) as exc:
            raise tts_dependency_error(exc) or exc from None

    def _pick(self, prompt: str, audio: np.ndarray, settings: GenerationSettings) -> GeneratedAudio:
        result = GeneratedAudio(prompt, audio[0], self.sample_rate, int(settings.seed), self.model_id,  # type: ignore[arg-type]
                                settings)
        if len(audio) == 1:
            return result
        scores = clap_scores(self.pipe, prompt, audio, self.sample_rate, self.device, self.pipe.text_encoder.dtype)
        order = rank(scores)
        result.samples = audio[order[0]]
        result.candidate = order[0]
        result.score = float(scores[order[0]])
        result.candidate_scores = [round(float(s), 6) for s in scores]
        result.alternatives = [audio[i] for i in order[1:]]
        return result


def _step_kwargs(scheduler: Any, generator: torch.Generator) -> dict:
    """``eta``/``generator`` where the scheduler's step accepts them, like the pipeline."""
    import inspect

    accepted = set(inspect.signature(scheduler.step).parameters)
    kwargs: dict[str, Any] = {}
    if "eta" in accepted:
        kwargs["eta"] = 0.0
    if "generator" in accepted:
        kwargs["generator"] = generator
    return kwargs


def open_generator(name: str | None = None, device: str | None = "auto", dtype: str = "auto",
                   cpu_offload: bool = False) -> Generator:
    """Resolve ``name`` (hub id, alias or directory), read its family (AudioLDM 2, Stable Audio Open, Stable
    Audio 3) and load it on the right device: a ``Generator`` or a ``StableAudioGenerator`` (same methods)."""
    from clapcli.models.loading import load_generation_pipeline

    loaded = load_generation_pipeline(name, device or "auto", dtype, cpu_offload=cpu_offload)
    if hasattr(loaded, "family"):  # Stable Audio Open / Stable Audio 3
        from clapcli.core.generate.stable_audio import StableAudioGenerator

        return StableAudioGenerator(loaded)  # type: ignore[return-value]
    return Generator(loaded.pipe, loaded.model_id, loaded.is_tts)
