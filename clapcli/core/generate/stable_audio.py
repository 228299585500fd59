"""Stable Audio Open and Stable Audio 3 text-to-audio (and Stable Audio 3 audio-to-audio / inpainting).

Unlike AudioLDM 2, these pipelines run on current transformers as diffusers ships them, so we call the
pipeline itself, one prompt per call with its own seeded generator: the waveform is the pipeline's by
construction (tests/generate/test_stable_audio_equality.py), and a prompt's audio never depends on the
other prompts of the run. What we add: per-model defaults, the model's maximum length enforced (the
Stable Audio 3 pipeline silently clamps its duration conditioning), candidates ranked by CLAP score,
progress, and one result or one failure per prompt. See docs/stable-audio.md.
"""

from __future__ import annotations

import math
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from clapcli.core.generate.common import (
    GeneratedAudio,
    GenerationSettings,
    StepCallback,
    _prompt_problem,
    _reason,
    check_numbers,
    check_prompt,
)
from clapcli.core.generate.reference import load_reference, reference_seconds
from clapcli.errors import InvalidField, MissingDependencyError
from clapcli.results import FailedInput

DEFAULT_SECONDS = 10.0  # both pipelines' own default for SA3; SAO's pipeline defaults to its 47.55 s maximum
# (steps, guidance) per family, as the pipelines default them; SA3's follow its scheduler (below).
DEFAULTS = {"stable-audio-open": (100, 7.0), "stable-audio-3": (8, 1.0)}
# A Stable Audio 3 base (not post-trained) model: the reference's defaults for rectified_flow models (stable-audio-3's
# Gradio interface; the -base cards' example: steps=50, cfg_scale=7.0), not the diffusers pipeline's 100 steps.
SA3_BASE_DEFAULTS = (50, 7.0)
NAMES = {"stable-audio-open": "Stable Audio Open", "stable-audio-3": "Stable Audio 3"}


class StableAudioGenerator:
    """A loaded Stable Audio pipeline with the same methods as ``Generator``."""

    max_batch = 1  # one prompt per pipeline call: per-prompt seeds, and SAO's SDE noise is per call

    def __init__(self, loaded: Any) -> None:
        self.loaded = loaded
        self.pipe = loaded.pipe
        self.model_id = loaded.model_id
        self.family = loaded.family
        vae = self.pipe.vae.config
        self.sample_rate = int(vae.sampling_rate)
        self.channels = int(vae.audio_channels)
        self._scorer: Any = None

    # ------------------------------------------------------------------ the model's numbers

    @property
    def max_seconds(self) -> float:
        """The longest request the model serves, read from its configuration."""
        pipe = self.pipe
        if self.family == "stable-audio-open":  # the DiT's fixed window and the projection's duration range
            window = pipe.transformer.config.sample_size * pipe.vae.hop_length / self.sample_rate
            return float(min(window, pipe.projection_model.config.max_value))
        return float(pipe.duration_embedder.config.max_val)  # past it, the pipeline clamps the conditioning

    @property
    def _base_sa3(self) -> bool:
        """A Stable Audio 3 base checkpoint: deterministic Euler, no ping-pong re-noising (not post-trained)."""
        return self.family == "stable-audio-3" and not self.pipe.scheduler.config.get("stochastic_sampling", False)

    @property
    def default_steps(self) -> int:
        return SA3_BASE_DEFAULTS[0] if self._base_sa3 else DEFAULTS[self.family][0]

    @property
    def default_guidance(self) -> float:
        return SA3_BASE_DEFAULTS[1] if self._base_sa3 else DEFAULTS[self.family][1]

    # ------------------------------------------------------------------ checks

    def check(self, settings: GenerationSettings) -> GenerationSettings:
        """Validate options against this model; fill in steps, guidance, seconds and seed."""
        name = NAMES[self.family]
        # The audio-to-audio pipelines take no guidance: off by default with a recording, whatever the model's.
        guidance = 1.0 if settings.init_audio or settings.inpaint else self.default_guidance
        settings = replace(settings, steps=self.default_steps if settings.steps is None else settings.steps,
                           guidance=guidance if settings.guidance is None else settings.guidance)
        check_numbers(settings)
        if settings.scheduler is not None:
            raise InvalidField("scheduler", "{scheduler} picks an AudioLDM 2 scheduler; " + name + " runs its own "
                               "(" + type(self.pipe.scheduler).__name__ + ")")
        if settings.transcription is not None:
            raise InvalidField("transcription", "{transcription} needs a text-to-speech AudioLDM 2 checkpoint (e.g. "
                               "{model} tts-gigaspeech)")
        self._check_reference(settings)
        reference = settings.init_audio or settings.inpaint
        default = None if reference is None else min(reference_seconds(reference), self.max_seconds)
        seconds = self._check_seconds(settings.seconds, default)
        self._check_span(settings, seconds)
        if settings.negative is not None and settings.guidance <= 1.0:  # type: ignore[operator]
            raise InvalidField("negative", "{negative} works through guidance, which is off at {guidance} "
                               "{value:g}; give {guidance} above 1 too", value=settings.guidance)
        if settings.candidates > 1:
            self._load_scorer()  # before any generation: a missing scorer is one line, not a failure per prompt
        seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
        return replace(settings, seconds=seconds, seed=seed)

    def _check_seconds(self, value: float | None, default: float | None) -> float:
        """The length asked for, else ``default`` (a reference recording's), else 10 s (within the maximum)."""
        high = self.max_seconds
        default = min(DEFAULT_SECONDS, high) if default is None else default
        seconds = default if value is None else float(value)
        if not math.isfinite(seconds) or seconds <= 0:
            raise InvalidField("seconds", "{seconds} must be a positive number of seconds, got {value}", value=value)
        if int(seconds * self.sample_rate) < 1:
            raise InvalidField("seconds", "{seconds} {value:g} is shorter than one sample", value=seconds)
        if seconds > high:
            raise InvalidField("seconds", "{seconds} {value:g} is longer than model '{model_id}' serves ({high:g} s "
                               "at most); generate shorter clips", value=seconds, model_id=self.model_id, high=high)
        return seconds

    def _check_reference(self, settings: GenerationSettings) -> None:
        variation, inpaint = settings.init_audio is not None, settings.inpaint is not None
        if (variation or inpaint) and self.family != "stable-audio-3":
            flag = "init_audio" if variation else "inpaint"
            raise InvalidField(flag, f"{{{flag}}} needs a Stable Audio 3 model (its audio-to-audio pipelines)")
        if variation and inpaint:
            raise InvalidField("inpaint", "give {init_audio} (a variation) or {inpaint} (fill a span), not both")
        if settings.strength is not None and not variation:
            raise InvalidField("strength", "{strength} goes with {init_audio}")
        if (settings.mask_start is not None or settings.mask_end is not None) and not inpaint:
            raise InvalidField("mask_start", "{mask_start} and {mask_end} go with {inpaint}")
        if (variation or inpaint) and settings.guidance > 1.0:  # type: ignore[operator]
            raise InvalidField("guidance", "the Stable Audio 3 audio-to-audio pipelines have no guidance; drop "
                               "{guidance} (and {negative})")
        if variation and not 0.0 < (1.0 if settings.strength is None else settings.strength) <= 1.0:
            raise InvalidField("strength", "{strength} must be in (0, 1] (1 keeps nothing of the recording), got "
                               "{value}", value=settings.strength)

    def _check_span(self, settings: GenerationSettings, seconds: float) -> None:
        if settings.inpaint is not None:
            start, end = settings.mask_start, settings.mask_end
            if start is None or end is None:
                raise InvalidField("mask_start", "{inpaint} needs the span to regenerate: {mask_start} S {mask_end} S")
            if not 0 <= start < end <= seconds:
                raise InvalidField("mask_start", "{mask_start} {start:g} .. {mask_end} {end:g} must lie inside the "
                                   "0-{seconds:g} s generated (0 <= start < end)", start=start, end=end,
                                   seconds=seconds)

    def planned_steps(self, settings: GenerationSettings) -> int:
        """Transformer passes per prompt, for progress bars."""
        return int(settings.steps if settings.steps is not None else self.default_steps)

    # ------------------------------------------------------------------ generation

    def generate(self, prompts: list[str] | str, settings: GenerationSettings | None = None,
                 on_step: StepCallback | None = None) -> list[GeneratedAudio]:
        """One ``GeneratedAudio`` per prompt; raises on any failure."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        for prompt in prompts:
            check_prompt(prompt)
        settings = self.check(settings or GenerationSettings())
        return [self._run(prompt, settings, on_step) for prompt in prompts]

    def generate_many(self, prompts: list[str], settings: GenerationSettings, batch_size: int = 1,
                      on_step: StepCallback | None = None) -> Iterator[GeneratedAudio | FailedInput]:
        """One result per prompt, in prompt order; a failing prompt loses nothing else."""
        settings = self.check(settings)
        for prompt in prompts:
            problem = _prompt_problem(prompt)
            if problem is not None:
                yield FailedInput(prompt, problem)
                continue
            try:
                yield self._run(prompt, settings, on_step)
            except (KeyboardInterrupt, MissingDependencyError):
                raise
            except Exception as exc:  # noqa: BLE001 - one prompt's failure is reported against it
                yield FailedInput(prompt, _reason(exc))

    @torch.no_grad()
    def _run(self, prompt: str, settings: GenerationSettings, on_step: StepCallback | None) -> GeneratedAudio:
        audio = self.pipeline_audio(prompt, settings, on_step)  # (n, channels, samples)
        clips = np.ascontiguousarray(audio.float().cpu().numpy().transpose(0, 2, 1))  # (n, samples, channels)
        return self._pick(prompt, clips, settings)

    def pipeline_audio(self, prompt: str, settings: GenerationSettings, on_step: StepCallback | None = None
                       ) -> torch.Tensor:
        """The pipeline's own output for one prompt: (candidates, channels, samples)."""
        generator = torch.Generator("cpu").manual_seed(int(settings.seed))  # type: ignore[arg-type]
        kwargs: dict[str, Any] = dict(num_inference_steps=settings.steps, num_waveforms_per_prompt=settings.candidates,
                                      generator=generator, output_type="pt")
        pipe = self.pipe
        if self.family == "stable-audio-open":
            kwargs.update(audio_end_in_s=settings.seconds, guidance_scale=settings.guidance,
                          negative_prompt=settings.negative)
            if on_step is not None:
                kwargs.update(callback=lambda *_: on_step(1), callback_steps=1)
        else:
            kwargs.update(duration=settings.seconds, **self._sa3_kwargs(settings))
            if settings.init_audio is not None or settings.inpaint is not None:
                pipe = self.loaded.variant("variation" if settings.init_audio is not None else "inpaint")
            if on_step is not None:
                kwargs.update(callback_on_step_end=_step_end(on_step))
        with warnings.catch_warnings():  # torchsde's float-rounding notices would drown our one-line messages
            warnings.simplefilter("ignore", UserWarning)
            return pipe(prompt, **kwargs).audios

    def _sa3_kwargs(self, settings: GenerationSettings) -> dict[str, Any]:
        if settings.init_audio is not None:
            audio = load_reference(settings.init_audio, self.sample_rate, self.channels)
            return {"audio": audio, "init_noise_level": 1.0 if settings.strength is None else settings.strength}
        if settings.inpaint is not None:
            audio = load_reference(settings.inpaint, self.sample_rate, self.channels)
            return {"audio": audio, "mask_start_seconds": settings.mask_start, "mask_end_seconds": settings.mask_end}
        return {"guidance_scale": settings.guidance, "negative_prompt": settings.negative}

    def _pick(self, prompt: str, clips: np.ndarray, settings: GenerationSettings) -> GeneratedAudio:
        from clapcli.core.generate.scoring import rank

        result = GeneratedAudio(prompt, clips[0], self.sample_rate, int(settings.seed), self.model_id,  # type: ignore[arg-type]
                                replace(settings, scheduler=type(self.pipe.scheduler).__name__))
        if len(clips) == 1:
            return result
        scores = self.clap_scores(prompt, clips)
        order = rank(scores)
        result.samples, result.candidate = clips[order[0]], order[0]
        result.score = float(scores[order[0]])
        result.candidate_scores = [round(float(s), 6) for s in scores]
        result.alternatives = [clips[i] for i in order[1:]]
        return result

    def clap_scores(self, prompt: str, clips: np.ndarray) -> np.ndarray:
        """CLAP cosine of each candidate (n, samples, channels) to ``prompt``: downmixed to mono and resampled
        to the scorer's rate (the default embedding model, loaded on first use)."""
        from clapcli.core.generate.scoring import embedding_scores

        return embedding_scores(self._load_scorer(), prompt, clips, self.sample_rate)

    def _load_scorer(self) -> Any:
        """The default embedding model (CLAPCLI_MODEL, else LAION CLAP), loaded once."""
        if self._scorer is None:
            from clapcli.errors import ModelLoadError
            from clapcli.models.loading import load_embedding_model

            try:
                self._scorer = load_embedding_model(None, device="cpu")
            except ModelLoadError as exc:
                raise ModelLoadError("ranking candidates by CLAP score needs a CLAP model (CLAPCLI_MODEL sets "
                                     f"which): {exc}") from None
        return self._scorer


def _step_end(on_step: StepCallback) -> Any:
    def callback(pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
        on_step(1)
        return tensors

    return callback
