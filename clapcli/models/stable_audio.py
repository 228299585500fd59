"""Stable Audio Open and Stable Audio 3 (diffusers) as registry backends: a checkpoint -> a ready pipeline.

Both pipelines run as diffusers ships them (no component needs replacing on transformers 5); generation
lives in ``clapcli.core.generate.stable_audio``. Stable Audio Open's scheduler
(``CosineDPMSolverMultistepScheduler``) draws its noise through torchsde, an optional dependency.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from typing import Any

from clapcli.errors import ClapcliError, missing_extra
from clapcli.models.audioldm2 import _dtype_kwarg, _place, quiet_libraries
from clapcli.models.hub import ModelRef, check_tokenizer, wrap_load_error

# Each family's pipelines by task: "text" is text-to-audio; the others take a reference recording.
PIPELINES = {
    "stable-audio-open": {"text": "StableAudioPipeline"},
    "stable-audio-3": {"text": "StableAudio3Pipeline", "variation": "StableAudio3AudioToAudioPipeline",
                       "inpaint": "StableAudio3InpaintPipeline"},
}
NEEDS_EXTRA = "generate"


@dataclass
class StableAudioPipe:
    """A loaded pipeline: ``pipe`` (components on their device), its id and family."""

    pipe: Any
    model_id: str
    family: str

    def variant(self, task: str) -> Any:
        """The family's pipeline for ``task`` on the same components (no copy of the weights)."""
        import diffusers

        cls = getattr(diffusers, PIPELINES[self.family][task])
        if isinstance(self.pipe, cls):
            return self.pipe
        other = cls(**self.pipe.components)
        other.set_progress_bar_config(disable=True)
        return other


def _load(ref: ModelRef, family: str, device: Any, dtype: Any, cpu_offload: bool) -> StableAudioPipe:
    import diffusers

    quiet_libraries()
    cls = getattr(diffusers, PIPELINES[family]["text"])
    try:
        with warnings.catch_warnings():  # the VAEs' torch.nn.utils.weight_norm FutureWarning, on every run
            warnings.simplefilter("ignore", FutureWarning)
            pipe = cls.from_pretrained(ref.location, **_dtype_kwarg(dtype))
    except ClapcliError:
        raise
    except Exception as exc:  # missing files, corrupt weights: library-specific errors
        raise wrap_load_error(ref, exc) from None
    check_tokenizer(pipe.tokenizer, ref)
    _place(pipe, device, cpu_offload)
    pipe.set_progress_bar_config(disable=True)
    return StableAudioPipe(pipe, ref.model_id, family)


def load_open(ref: ModelRef, config: dict, device: Any, dtype: Any, cpu_offload: bool = False,
              **_: Any) -> StableAudioPipe:
    """Registry backend for Stable Audio Open (``StableAudioPipeline``)."""
    if importlib.util.find_spec("torchsde") is None:  # its scheduler's noise sampler, imported at first step
        raise missing_extra("torchsde", NEEDS_EXTRA)
    return _load(ref, "stable-audio-open", device, dtype, cpu_offload)


def load_sa3(ref: ModelRef, config: dict, device: Any, dtype: Any, cpu_offload: bool = False,
             **_: Any) -> StableAudioPipe:
    """Registry backend for Stable Audio 3 (``StableAudio3Pipeline`` and its audio-to-audio variants)."""
    return _load(ref, "stable-audio-3", device, dtype, cpu_offload)
