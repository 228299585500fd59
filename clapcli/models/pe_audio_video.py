"""The audio-text part of a ``PeAudioVideoModel`` checkpoint (the ``pe-av-*`` releases), without its video
tower: transformers builds the whole model only with ``timm`` installed (the video tower is a timm
ViT), and the video weights would cost memory for nothing here.

The checkpoint's ``config.json`` gives the audio-text config (``PeAudioVideoConfig.audio_config``: the
shared text tower plus the audio encoder); a plain ``PeAudioModel`` is built from it and filled from
the checkpoint's tensors: ``audio_model.*`` (the audio encoder, heads, logit scale and bias). The layout is
the one transformers 5 writes for ``PeAudioVideoModel`` (``save_pretrained`` of a real model, checked in
tests/pe_audio): each tied tensor once, under the source name of ``_tied_weights_keys``, so the text tower is
``text_model.*`` (not ``audio_model.text_model.*``) and the audio encoder ``audio_model.audio_encoder.*``
(not ``audio_video_encoder.embedder.audio_encoder.*``). A checkpoint holding the other copies instead
loads too (``TIED``). Only the tensors needed are read (safetensors, lazily): not the video tower.
"""

from __future__ import annotations

import json
from typing import Any

from clapcli.errors import ModelLoadError

# where a tied tensor may be stored instead of ``audio_model.<name>``: PeAudioModel prefix -> other names, in
# order (``PeAudioVideoModel._tied_weights_keys``: the text tower is shared with the video model)
TIED = {"text_model.": ("text_model.", "video_model.text_model."),
        "audio_encoder.": ("audio_video_encoder.embedder.audio_encoder.",)}


def load_audio_text(ref: Any, dtype: Any) -> Any:
    """A ``PeAudioModel`` (eval mode, CPU) holding a ``pe_audio_video`` checkpoint's audio-text weights."""
    from transformers import PeAudioModel, PeAudioVideoConfig

    config = PeAudioVideoConfig.from_pretrained(ref.location)
    network = PeAudioModel(config.audio_config)
    wanted = {name: _sources(name) for name in network.state_dict()}
    tensors = _read(ref, wanted)
    missing = [name for name in wanted if name not in tensors]
    if missing:
        raise ModelLoadError(f"model '{ref.location}' lacks {len(missing)} audio-text weight(s), e.g. "
                             f"'audio_model.{missing[0]}'; is it a complete pe-av checkpoint?")
    network.load_state_dict(tensors)
    return network.to(dtype).eval()


def _sources(name: str) -> list[str]:
    """The checkpoint names one ``PeAudioModel`` tensor may be stored under, preferred first."""
    names = [f"audio_model.{name}"]
    for prefix, others in TIED.items():
        if name.startswith(prefix):
            names.extend(other + name[len(prefix):] for other in others)
    return names


def _read(ref: Any, wanted: dict[str, list[str]]) -> dict[str, Any]:
    from safetensors import safe_open

    from clapcli.models.hub import fetch_file

    index = fetch_file(ref, "model.safetensors.index.json", required=False)
    if index is not None:
        weight_map: dict[str, str] = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    else:
        weight_map = {}
    files = sorted(set(weight_map.values())) or ["model.safetensors"]
    tensors: dict[str, Any] = {}
    for filename in files:
        path = fetch_file(ref, filename)
        with safe_open(str(path), framework="pt") as handle:
            stored = set(handle.keys())
            for name, candidates in wanted.items():
                if name in tensors:
                    continue
                found = next((c for c in candidates if c in stored), None)
                if found is not None:
                    tensors[name] = handle.get_tensor(found)
    return tensors

