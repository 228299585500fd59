"""A tiny Stable Audio 3 release in stable-audio-tools form, built offline: ``model_config.json`` +
``model.safetensors`` + the ``t5gemma-b-b-ul2/`` folder, as the hub repos ship them.

The tensors come from tiny diffusers components (so the test can also build ``StableAudio3Pipeline``
directly from the very same tensors) and are written under stable-audio-3's key names by an inverse
mapping owned by this file. ``data/sa3_reference_keys.json`` holds the key names and shapes that
stable-audio-3's own ``create_diffusion_cond_from_config`` builds for ``CONFIG`` (generated once from
its source, commit 636f906); a test checks the checkpoint written here against it, so this mapping
cannot drift from the real layout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_stable_audio import build_gemma_tokenizer, tiny_t5gemma  # noqa: E402

MAX_SECONDS = 2.0
T5_DIR = "t5gemma-b-b-ul2"
DIT = dict(io_channels=8, patch_size=1, embed_dim=64, depth=1, num_heads=1, cond_token_dim=16, global_cond_dim=16,
           local_add_cond_dim=9, timestep_features_dim=8, ff_mult=2.0, num_memory_tokens=2,
           use_differential_attention=True)
VAE = dict(audio_channels=2, patch_size=16, encoder_channels=8, encoder_c_mults=[1, 2], encoder_strides=[2, 2],
           encoder_transformer_depths=[1, 1], latent_dim=8, use_differential_attention=True, dim_heads=8, ff_mult=2,
           sliding_window=1, encoder_sinusoidal_blocks=[0, 0], decoder_sinusoidal_blocks=[0, 0], sampling_rate=44100)
SAME = {"channels": 8, "c_mults": [1, 2], "strides": [2, 2], "transformer_depths": [1, 1], "latent_dim": 8,
        "dim_heads": 8, "ff_mult": 2, "sliding_window": [1, 1], "variable_stride": True}
CONFIG = {
    "model_type": "diffusion_cond", "sample_size": int(MAX_SECONDS * 44100), "sample_rate": 44100, "audio_channels": 2,
    "model": {
        "pretransform": {"type": "autoencoder", "config": {
            "encoder": {"type": "same", "config": {"in_channels": 32, **SAME}},
            "decoder": {"type": "same", "config": {"out_channels": 32, **SAME, "sinusoidal_blocks": [0, 0]}},
            "pretransform": {"type": "patched", "config": {"channels": 2, "patch_size": 16}},
            "bottleneck": {"type": "soft_norm", "config": {"dim": 8, "auto_scale": True}},
            "latent_dim": 8, "downsampling_ratio": 64, "io_channels": 2}},
        "conditioning": {"configs": [
            {"id": "prompt", "type": "t5gemma", "config": {"max_length": 32, "padding_mode": "learned",
                                                          "repo_id": "stabilityai/stable-audio-3-small-sfx",
                                                          "subfolder": T5_DIR}},
            {"id": "seconds_total", "type": "number", "config": {"min_val": 0, "max_val": MAX_SECONDS,
                                                                  "fourier_features_type": "expo"}}],
            "cond_dim": 16},
        "diffusion": {"cross_attention_cond_ids": ["prompt"], "global_cond_ids": ["seconds_total"],
                      "diffusion_objective": "rf_denoiser",
                      "config": {"io_channels": 8, "embed_dim": 64, "depth": 1, "num_heads": 1, "cond_token_dim": 16,
                                 "global_cond_dim": 16, "global_cond_type": "adaLN", "timestep_features_type": "expo",
                                 "timestep_features_dim": 8, "num_memory_tokens": 2, "local_add_cond_dim": 9,
                                 "norm_type": "rms_norm", "norm_kwargs": {"eps": 1e-6, "force_fp32": True},
                                 "attn_kwargs": {"differential": True, "qk_norm": "rms"}, "ff_kwargs": {"mult": 2}}},
        "io_channels": 8}}

# diffusers name fragment -> stable-audio-3 name fragment, inside one block
SAME_BLOCK = [("norm_attn.", "pre_norm."), ("attn.", "self_attn."), ("norm_ff.", "ff_norm."),
              ("ff.proj_in.", "ff.ff.0.proj."), ("ff.proj_out.", "ff.ff.2.")]
DIT_TOP = {"proj_in.": "transformer.project_in.", "proj_out.": "transformer.project_out.",
           "memory_tokens": "transformer.memory_tokens", "rotary_pos_emb.": "transformer.rotary_pos_emb.",
           "global_cond_embedder.": "transformer.global_cond_embedder."}


def build_components(seed: int = 0) -> dict:
    """Tiny diffusers components with random weights everywhere (no zero-initialised layer hides an input)."""
    import warnings

    import torch
    from diffusers import AutoencoderSAME, StableAudio3DiTModel
    from diffusers.pipelines.stable_audio_3 import StableAudio3DurationEmbedder

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        parts = {"transformer": StableAudio3DiTModel(**DIT), "vae": AutoencoderSAME(**VAE),
                 "duration_embedder": StableAudio3DurationEmbedder(output_dim=16, fourier_dim=256, min_val=0.0,
                                                                   max_val=MAX_SECONDS)}
    with torch.no_grad():
        for model in (parts["transformer"], parts["vae"]):
            for param in model.parameters():
                if not param.any():
                    param.normal_(0.0, 0.2)
        parts["vae"].bottleneck.running_std.fill_(1.7)  # auto-scaled: a value the conversion must carry over
    return {name: model.eval() for name, model in parts.items()}


def build_text_encoder(folder: Path, seed: int = 0):
    """(T5GemmaEncoderModel, GemmaTokenizer) saved into ``folder`` (the release's t5gemma-b-b-ul2 layout)."""
    import torch

    tokenizer = build_gemma_tokenizer(folder.parent / f"_{folder.name}_tok")
    torch.manual_seed(seed + 1)
    encoder = tiny_t5gemma(len(tokenizer)).eval()
    encoder.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return encoder, tokenizer


def differential_to_reference(weight):
    """diffusers' fused rows [q | q2 | k | k2 | v] -> stable-audio-3's [q | k | v | q2 | k2]."""
    import torch

    q, q2, k, k2, v = weight.chunk(5, dim=0)
    return torch.cat([q, k, v, q2, k2], dim=0).contiguous()


def _rename(inner: str, table: list[tuple[str, str]]) -> str:
    import re

    for old, new in table:
        inner = re.sub(r"(^|\.)" + re.escape(old), lambda m, new=new: m.group(1) + new, inner, count=1)
    return inner


def original_state(parts: dict) -> dict:
    """The components' tensors under stable-audio-3's key names (plus the buffers it saves)."""
    import torch

    state = {}
    depth = len(VAE["encoder_strides"])
    for key, value in parts["vae"].state_dict().items():
        side, _, rest = key.partition(".")
        if side == "bottleneck":
            state["pretransform.model.bottleneck." + {"scale": "scaling_factor"}.get(rest, rest)] = value
            continue
        if rest.startswith("proj."):
            index = depth + 1 if side == "encoder" else 1
            state[f"pretransform.model.{side}.layers.{index}.{rest[5:]}"] = value
            continue
        level, inner = rest[len("blocks."):].split(".", 1)
        index = int(level) + (0 if side == "encoder" else 3)
        inner = _rename(inner, SAME_BLOCK)
        if inner.endswith("to_qkv.weight"):
            value = differential_to_reference(value)
        state[f"pretransform.model.{side}.layers.{index}.{inner}"] = value
        if inner.endswith("pre_norm.alpha"):  # the reference saves each block's rotary frequencies
            dim = VAE["dim_heads"] // 2
            state[f"pretransform.model.{side}.layers.{index}.{inner[:-len('pre_norm.alpha')]}rope.inv_freq"] = (
                1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)))
    state["pretransform.model.bottleneck.noise_scaling_factor"] = torch.ones(1, 0, 1)
    for key, value in parts["transformer"].state_dict().items():
        if key == "prompt_padding_embedding":
            state["conditioner.conditioners.prompt.padding_embedding"] = value
            continue
        if key.startswith("transformer_blocks."):
            index, inner = key[len("transformer_blocks."):].split(".", 1)
            if inner == "self_attn.to_qkv.weight":
                value = differential_to_reference(value)
            inner = _rename(inner, [("ff.proj_in.", "ff.ff.0.proj."), ("ff.proj_out.", "ff.ff.2.")])
            state[f"model.model.transformer.layers.{index}.{inner}"] = value
            continue
        prefix = next((p for p in DIT_TOP if key.startswith(p)), None)
        state["model.model." + (DIT_TOP[prefix] + key[len(prefix):] if prefix else key)] = value
    linear = parts["duration_embedder"].linear
    state["conditioner.conditioners.seconds_total.embedder.embedding.1.weight"] = linear.weight.detach()
    state["conditioner.conditioners.seconds_total.embedder.embedding.1.bias"] = linear.bias.detach()
    return {key: value.detach().clone().contiguous() for key, value in state.items()}


def build_release(folder: Path, seed: int = 0) -> tuple[Path, dict, object, object]:
    """Write the release into ``folder``; returns (folder, diffusers components, encoder, tokenizer)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    parts = build_components(seed)
    encoder, tokenizer = build_text_encoder(folder / T5_DIR, seed)
    save_file(original_state(parts), str(folder / "model.safetensors"))
    (folder / "model_config.json").write_text(json.dumps(CONFIG, indent=2), encoding="utf-8")
    return folder, parts, encoder, tokenizer


def direct_pipeline(parts: dict, encoder, tokenizer, folder: Path):
    """StableAudio3Pipeline built by hand from the same tensors (tokenizer cut at the config's max_length),
    saved into ``folder`` and loaded back as any diffusers user would (from_pretrained picks the attention
    kernels, which a model built in memory may not share)."""
    import warnings

    from diffusers import FlowMatchEulerDiscreteScheduler, StableAudio3Pipeline

    tokenizer.model_max_length = 32
    pipe = StableAudio3Pipeline(vae=parts["vae"], text_encoder=encoder, tokenizer=tokenizer,
                                duration_embedder=parts["duration_embedder"], transformer=parts["transformer"],
                                scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0, stochastic_sampling=True))
    pipe.save_pretrained(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        pipe = StableAudio3Pipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe
