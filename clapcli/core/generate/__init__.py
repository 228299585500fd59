"""Text-to-audio generation with AudioLDM 2 (``clap generate``).

    >>> from clapcli.core.generate import open_generator, GenerationSettings
    >>> gen = open_generator("cvssp/audioldm2")                  # alias, hub id or local directory
    >>> [audio] = gen.generate("rain in a forest", GenerationSettings(seed=7, candidates=3))
    >>> audio.samples.shape, audio.sample_rate, audio.score      # best of 3 by CLAP score
"""

from clapcli.core.generate.generator import (
    DEFAULT_GUIDANCE,
    MAX_LENGTH_FACTOR,
    GeneratedAudio,
    GenerationSettings,
    Generator,
    open_generator,
)
from clapcli.core.generate.schedulers import DEFAULT_SCHEDULER, DEFAULT_STEPS, PIPELINE_DEFAULT_STEPS, SCHEDULERS

__all__ = [
    "DEFAULT_GUIDANCE", "DEFAULT_SCHEDULER", "DEFAULT_STEPS", "MAX_LENGTH_FACTOR", "PIPELINE_DEFAULT_STEPS",
    "SCHEDULERS", "GeneratedAudio", "GenerationSettings", "Generator", "open_generator",
]
