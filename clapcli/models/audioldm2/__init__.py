"""AudioLDM 2 (diffusers) as a registry backend: a checkpoint whose family is known -> a ready pipeline.

Loading lives here, generation in ``clapcli.core.generate``. The pipeline class is diffusers'
``AudioLDM2Pipeline`` with our GPT-2 loop (``language_model``) in place of its GenerationMixin one,
which current transformers broke (docs/design.md §3).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from clapcli.errors import ClapcliError, InvalidField, MissingDependencyError, ModelLoadError, missing_extra
from clapcli.models.hub import ModelRef, check_tokenizer, wrap_load_error


@dataclass
class AudioLDM2Pipe:
    """A loaded pipeline: ``pipe`` (diffusers components on their device), its id, and whether its
    second text encoder is the text-to-speech (VITS phoneme) one."""

    pipe: Any
    model_id: str
    is_tts: bool = False


def pipeline_class() -> type:
    """``AudioLDM2Pipeline`` with our language-model loop."""
    from diffusers import AudioLDM2Pipeline

    from clapcli.models.audioldm2.language_model import generate_hidden_states

    class ClapcliAudioLDM2(AudioLDM2Pipeline):
        """diffusers' pipeline with our GPT-2 loop in place of its GenerationMixin-based one."""

        def generate_language_model(self, inputs_embeds=None, max_new_tokens=8, **model_kwargs):  # noqa: D401
            count = max_new_tokens if max_new_tokens is not None else self.language_model.config.max_new_tokens
            return generate_hidden_states(self.language_model, inputs_embeds, model_kwargs.get("attention_mask"),
                                          count)

    return ClapcliAudioLDM2


def load(ref: ModelRef, config: dict, device: Any, dtype: Any, cpu_offload: bool = False, **_: Any) -> AudioLDM2Pipe:
    """Registry backend: the pipeline in ``ref``, tokenizers checked, placed on ``device``."""
    quiet_libraries()
    is_tts = _component_class(config, "text_encoder_2") == "VitsModel"
    try:
        pipe = pipeline_class().from_pretrained(ref.location, **_dtype_kwarg(dtype))
    except ClapcliError:
        raise
    except Exception as exc:  # missing files, corrupt weights: library-specific errors
        raise (tts_dependency_error(exc) or wrap_load_error(ref, exc)) from None
    check_tokenizer(pipe.tokenizer, ref)
    if is_tts:
        _check_tts_tokenizer(pipe.tokenizer_2, ref)
    else:
        check_tokenizer(pipe.tokenizer_2, ref)
    _place(pipe, device, cpu_offload)
    pipe.set_progress_bar_config(disable=True)
    return AudioLDM2Pipe(pipe, ref.model_id, is_tts)


def _component_class(config: dict, name: str) -> str:
    entry = config.get(name)
    return str(entry[1]) if isinstance(entry, (list, tuple)) and len(entry) == 2 else ""


def _check_tts_tokenizer(tokenizer: Any, ref: ModelRef) -> None:
    """The TTS checkpoints turn the transcription into phonemes with phonemizer (+ espeak-ng)."""
    if len(tokenizer) < 20:  # phoneme vocabularies are small, but not 5 placeholder tokens
        raise ModelLoadError(f"model '{ref.location}': its phoneme tokenizer has only {len(tokenizer)} tokens "
                             "(files missing or not cached); pass a complete local directory with --model")
    if getattr(tokenizer, "phonemize", False) and importlib.util.find_spec("phonemizer") is None:
        raise missing_extra("phonemizer", "tts")


def tts_dependency_error(exc: BaseException) -> MissingDependencyError | None:
    """The missing piece (phonemizer, espeak-ng) behind a text-to-speech failure, if that is the cause."""
    text = str(exc).lower()
    if "phonemizer" in text:
        return missing_extra("phonemizer", "tts")
    if "espeak" in text:
        return MissingDependencyError(
            "text-to-speech needs the espeak-ng system package for phonemizer (e.g. apt-get install espeak-ng)")
    return None


def _dtype_kwarg(dtype: Any) -> dict:
    """diffusers renamed ``torch_dtype`` to ``dtype`` (0.36) and warns on the old name."""
    import diffusers
    from packaging.version import Version

    return {"dtype": dtype} if Version(diffusers.__version__) >= Version("0.36") else {"torch_dtype": dtype}


def _place(pipe: Any, device: Any, cpu_offload: bool) -> None:
    if not cpu_offload:
        pipe.to(device)
        return
    if device.type != "cuda":
        raise InvalidField("cpu_offload", "{cpu_offload} keeps weights in CPU memory and moves each model to a CUDA "
                           "GPU when it runs; it needs {device} cuda")
    if importlib.util.find_spec("accelerate") is None:
        raise MissingDependencyError("--cpu-offload needs accelerate: pip install accelerate")
    pipe.enable_model_cpu_offload(device=device)


def quiet_libraries() -> None:
    """Library progress bars and warnings would drown our one-line messages on stderr."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    from clapcli.models.hub import keep_download_bars

    keep_download_bars()  # gigabytes to fetch on a first run: the hub's download bars stay on a terminal
