"""Stable Audio 3 state dict (stable-audio-3 / stable-audio-tools key names) -> diffusers components' state dicts.

Learned from stable-audio-3's model code (``factory.py``: ``ConditionedDiffusionModelWrapper`` holding the
DiT under ``model.model.``, the SAME autoencoder under ``pretransform.model.``, the conditioners under
``conditioner.conditioners.``) and from diffusers' component classes, not copied from diffusers' script.
Every key is renamed, or dropped for a stated reason (a derived buffer, checked equal to what diffusers
rebuilds; training-only noise augmentation), or refused: nothing is loaded with a silent ``strict=False``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from clapcli.errors import ModelLoadError

COMPONENTS = ("transformer", "vae", "duration_embedder", "text_encoder")
VAE, DIT = "pretransform.model.", "model.model."
PROMPT, SECONDS = "conditioner.conditioners.prompt.", "conditioner.conditioners.seconds_total."

# Inside one SAME transformer (reference TransformerBlock with DyT norms) -> diffusers' SAME TransformerBlock.
SAME_BLOCK = [("pre_norm.", "norm_attn."), ("self_attn.", "attn."), ("ff_norm.", "norm_ff."),
              ("ff.ff.0.proj.", "ff.proj_in."), ("ff.ff.2.", "ff.proj_out.")]
# Inside one DiT block: diffusers keeps the reference's norm and attention names; only the GLU is renamed.
DIT_BLOCK = [("ff.ff.0.proj.", "ff.proj_in."), ("ff.ff.2.", "ff.proj_out.")]
DIT_TOP = {"transformer.project_in.": "proj_in.", "transformer.project_out.": "proj_out.",
           "transformer.memory_tokens": "memory_tokens", "transformer.rotary_pos_emb.": "rotary_pos_emb.",
           "transformer.global_cond_embedder.": "global_cond_embedder.", "to_timestep_embed.": "to_timestep_embed.",
           "to_cond_embed.": "to_cond_embed.", "to_global_embed.": "to_global_embed.",
           "preprocess_conv.": "preprocess_conv.", "postprocess_conv.": "postprocess_conv."}


@dataclass
class SA3Keys:
    """Tensors per diffusers component, and what was dropped (pattern -> count)."""

    components: dict[str, dict[str, Any]] = field(default_factory=lambda: {name: {} for name in COMPONENTS})
    dropped: dict[str, int] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    def put(self, component: str, key: str, value: Any) -> None:
        self.components[component][key] = value

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def reorder_qkv(weight: Any) -> Any:
    """Differential self-attention: the reference's fused rows [q | k | v | q2 | k2] -> diffusers' [q | q2 | k | k2 |
    v]."""
    import torch

    q, k, v, q2, k2 = weight.chunk(5, dim=0)
    return torch.cat([q, q2, k, k2, v], dim=0).contiguous()


def map_state(state: dict, vae: dict, transformer: dict, source: str) -> SA3Keys:
    """``vae`` / ``transformer``: the components' diffusers configs (levels, differential attention)."""
    keys = SA3Keys()
    depth, differential = len(vae["encoder_strides"]), vae["use_differential_attention"]
    for key, value in state.items():
        if key.startswith(VAE):
            _vae(key[len(VAE):], value, depth, differential, keys, source)
        elif key.startswith(DIT):
            _dit(key[len(DIT):], value, transformer["use_differential_attention"], keys)
        elif key == PROMPT + "padding_embedding":
            keys.put("transformer", "prompt_padding_embedding", value)
        elif key.startswith(PROMPT + "model."):  # a T5Gemma trained with the model (enable_grad): its own weights
            keys.put("text_encoder", key[len(PROMPT + "model."):], value)
        elif key.startswith(SECONDS + "embedder.embedding.1."):
            keys.put("duration_embedder", "linear." + key.rsplit(".", 1)[1], value)
        else:
            keys.unknown.append(key)
    return keys


def _vae(rest: str, value: Any, depth: int, differential: bool, keys: SA3Keys, source: str) -> None:
    if rest.startswith("bottleneck."):
        name = rest[len("bottleneck."):]
        if name == "noise_scaling_factor":  # (1, noise channels, 1): channels the reference decoder would append
            if value.numel():
                raise ModelLoadError(f"checkpoint '{source}': its autoencoder appends {value.shape[1]} noise "
                                     "channel(s) to the latents, which diffusers' AutoencoderSAME does not")
            keys.drop("empty bottleneck noise-augmentation factor (no noise channels)")
            return
        keys.put("vae", "bottleneck." + {"scaling_factor": "scale"}.get(name, name), value)
        return
    match = re.match(r"(encoder|decoder)\.layers\.(\d+)\.(.*)$", rest)
    if match is None:
        keys.unknown.append(VAE + rest)
        return
    side, index, inner = match.group(1), int(match.group(2)), match.group(3)
    # Encoder: [level 0 .. depth-1, Transpose, Linear, Transpose]; decoder: [Transpose, Linear, Transpose, levels].
    if (side, index) in (("encoder", depth + 1), ("decoder", 1)):
        keys.put("vae", f"{side}.proj.{inner}", value)
        return
    level = index if side == "encoder" else index - 3
    if not 0 <= level < depth:
        keys.unknown.append(VAE + rest)
        return
    if inner.endswith("rope.inv_freq"):
        _check_rope(value, VAE + rest, source)
        keys.drop("SAME rotary frequencies (rebuilt by diffusers, checked equal)")
        return
    inner = _rename(inner, SAME_BLOCK)
    if differential and inner.endswith("attn.to_qkv.weight"):
        value = reorder_qkv(value)
    keys.put("vae", f"{side}.blocks.{level}.{inner}", value)


def _dit(rest: str, value: Any, differential: bool, keys: SA3Keys) -> None:
    match = re.match(r"transformer\.layers\.(\d+)\.(.*)$", rest)
    if match is not None:
        index, inner = match.group(1), match.group(2)
        inner = _rename(inner, DIT_BLOCK)
        if differential and inner == "self_attn.to_qkv.weight":
            value = reorder_qkv(value)
        keys.put("transformer", f"transformer_blocks.{index}.{inner}", value)
        return
    for prefix, target in DIT_TOP.items():
        if rest.startswith(prefix):
            keys.put("transformer", target + rest[len(prefix):], value)
            return
    keys.unknown.append(DIT + rest)


def _rename(inner: str, table: list[tuple[str, str]]) -> str:
    for old, new in table:
        inner = re.sub(r"(^|\.)" + re.escape(old), lambda m, new=new: m.group(1) + new, inner, count=1)
    return inner


def _check_rope(value: Any, key: str, source: str) -> None:
    """The SAME rotary frequencies diffusers rebuilds: standard RoPE over twice their length."""
    import torch

    dim = 2 * value.shape[0]
    expected = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
    if not torch.allclose(value.float(), expected, rtol=1e-5, atol=0):
        raise ModelLoadError(f"checkpoint '{source}': {key} holds non-standard rotary frequencies, which diffusers' "
                             "AutoencoderSAME rebuilds; this checkpoint cannot be converted")
