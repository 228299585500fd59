"""``clap export`` of fused LAION CLAP checkpoints: one audio tower per branch of the fused HTSAT.

transformers' fused HTSAT (``ClapAudioPatchEmbed`` with ``enable_fusion``) reads channel 0 alone for
rows whose ``is_longer`` is false and fuses all four channels for the others, through a data-dependent
branch (``torch.where(is_longer)``, ``if len(...) > 0``) that a trace bakes in. So it is traced twice,
with ``is_longer`` made inside the graph from the batch size (no graph input):

- ``audio``, every row plain: the branch and its index ops are pruned and the graph takes one channel,
  (batch, 1, frames, mels), exactly as an unfused tower (channel 0 is all the plain branch reads);
- ``audio_fusion``, every row fused: (batch, 4, frames, mels), a long clip's ``fusion_mel`` stack.

Both keep a dynamic batch (ONNX Runtime and OpenVINO checked at batches 1 to 7). The exported model
sends windows to the first and fused stacks to the second (``model.ExportedAudioModel``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clapcli.models.runtime.manifest import FUSION_TOWER


def is_fused(model: Any) -> bool:
    return model.family == "laion-clap" and bool(getattr(model, "fused", False))


def longer_flags(features: Any, longer: bool | None) -> dict[str, Any]:
    """The ``is_longer`` keyword of a fused tower traced for one branch ({} for an unfused model); built
    from the batch size so the batch stays dynamic (``torch.full`` does not trace)."""
    if longer is None:
        return {}
    import torch

    make = torch.ones if longer else torch.zeros
    return {"is_longer": make(features.shape[0], 1, dtype=torch.bool)}


def export_fusion_tower(tower: Any, model: Any, out: Path, opset: int) -> None:
    """Trace ``tower`` (the audio tower with every row fused) into ``audio_fusion.onnx``."""
    import torch

    frames = model.window_samples // model.mel_spec.hop_length + 1
    stacks = torch.zeros(2, 4, frames, model.mel_spec.n_mels)
    torch.onnx.export(tower, (stacks,), str(out / f"{FUSION_TOWER}.onnx"), opset_version=opset, dynamo=False,
                      input_names=["input_features"], output_names=["embeddings"],
                      dynamic_axes={"input_features": {0: "batch"}, "embeddings": {0: "batch"}})


def fused_settings(model: Any) -> dict[str, Any]:
    """The manifest's audio keys of a fused export ({} otherwise: unfused manifests stay as they were)."""
    return {"fused": True, "fusion_tower": FUSION_TOWER} if is_fused(model) else {}


def extra_towers(model: Any) -> list[str]:
    return [FUSION_TOWER] if is_fused(model) else []
