"""What every generator shares: the settings, the result, and the checks of numbers and prompts.

Its own module so that both generators (AudioLDM 2 in ``generator``, Stable Audio in ``stable_audio``)
import it without importing each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from clapcli.errors import ClapcliError, InputError, InvalidField
from clapcli.text import first_line

MAX_CANDIDATES = 16

StepCallback = Callable[[int], None]


@dataclass(frozen=True)
class GenerationSettings:
    steps: int | None = None  # None: the model's default (AudioLDM 2: 20; see each generator)
    guidance: float | None = None  # None: the model's default (AudioLDM 2: 3.5)
    seconds: float | None = None  # None: the model's default length (AudioLDM 2: its 10.24 s training length)
    negative: str | None = None
    candidates: int = 1  # > 1: generate that many, keep the best by CLAP score
    seed: int | None = None  # None: a random seed, reported in the results
    scheduler: str | None = None  # None: the model's default (AudioLDM 2: dpm)
    transcription: str | None = None  # text-to-speech checkpoints only
    max_new_tokens: int | None = None  # None: 8, or 512 for TTS checkpoints
    init_audio: str | None = None  # audio-to-audio (Stable Audio 3): the recording to vary ...
    strength: float | None = None  # ... and how much noise goes over it (1: none of it kept)
    inpaint: str | None = None  # inpainting (Stable Audio 3): the recording whose span is regenerated
    mask_start: float | None = None  # seconds, the span to regenerate
    mask_end: float | None = None


@dataclass
class GeneratedAudio:
    prompt: str
    samples: np.ndarray  # float32 at ``sample_rate``: (n,) mono (AudioLDM 2) or (n, channels) (Stable Audio)
    sample_rate: int
    seed: int
    model: str
    settings: GenerationSettings
    score: float | None = None  # CLAP cosine similarity of the kept candidate (when ranked)
    candidate_scores: list[float] = field(default_factory=list)  # in generation order
    candidate: int = 0  # index of the kept candidate in generation order
    alternatives: list[np.ndarray] = field(default_factory=list)  # the other candidates, best first

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    def metadata(self) -> dict:
        s = self.settings
        record = {
            "prompt": self.prompt, "seed": self.seed, "model": self.model, "steps": s.steps,
            "scheduler": s.scheduler, "guidance": s.guidance, "seconds": round(self.seconds, 6),
            "negative": s.negative, "transcription": s.transcription, "candidates": s.candidates,
            "clap_score": self.score, "candidate_scores": self.candidate_scores, "candidate": self.candidate,
        }
        # audio-to-audio runs (Stable Audio 3) also say what they started from; text-only records are unchanged
        for name in ("init_audio", "strength", "inpaint", "mask_start", "mask_end"):
            if getattr(s, name) is not None:
                record[name] = getattr(s, name)
        return record


# ---------------------------------------------------------------------- checks shared by the generators


def check_numbers(settings: GenerationSettings) -> None:
    """Steps, candidates, guidance and seed (filled in) are in range, whatever the model."""
    if settings.steps is None or settings.steps < 1:
        raise InvalidField("steps", "{steps} must be at least 1, got {value}", value=settings.steps)
    if not 1 <= settings.candidates <= MAX_CANDIDATES:
        raise InvalidField("candidates", "{candidates} must be between 1 and {high}, got {value}",
                           high=MAX_CANDIDATES, value=settings.candidates)
    if settings.guidance is None or not math.isfinite(settings.guidance) or settings.guidance < 0:
        raise InvalidField("guidance", "{guidance} must be >= 0 (1 or less turns guidance off), got {value}",
                           value=settings.guidance)
    if settings.seed is not None and not 0 <= settings.seed < 2**63:
        raise InvalidField("seed", "{seed} must be between 0 and 2^63-1, got {value}", value=settings.seed)


# ---------------------------------------------------------------------- prompts


def check_prompt(prompt: str) -> None:
    problem = _prompt_problem(prompt)
    if problem is not None:
        raise InputError(f"prompt {_label(prompt)!r}: {problem}")


def _prompt_problem(prompt: str) -> str | None:
    if not isinstance(prompt, str) or not prompt.strip():
        return "the prompt is empty; describe the sound to generate"
    return None


def _label(prompt: str) -> str:
    text = " ".join(str(prompt).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ClapcliError):
        return str(exc)
    return f"{type(exc).__name__}: {first_line(exc, 200)}" if str(exc).strip() else type(exc).__name__
