"""Stable Audio 3's ``model_config.json`` (stable-audio-tools / stable-audio-3 form) -> diffusers component configs.

Every size comes from the file, never from a default of the converter: the SAME autoencoder's
channels, strides, depths and window, the DiT's width, depth and heads, the duration range (the
model's maximum length: 120 s for the small models) and the prompt length. Options of the reference
model that diffusers 0.42.1's ``AutoencoderSAME`` / ``StableAudio3DiTModel`` do not implement are
refused in one line naming the file and the option, instead of converting into a model that computes
something else. Tensor shapes are checked against these configs later, key by key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clapcli.errors import ModelLoadError

OBJECTIVES = {"rf_denoiser": True, "rectified_flow": False}  # -> distilled (stochastic ping-pong sampling)
# Reference options diffusers' components have no counterpart for (option -> the value diffusers implements).
SAME_FIXED = {"conformer": False, "layer_scale": False, "feat_scale": False, "cross_attn": False, "causal": False,
              "conv_mapping": False, "dyt": True, "mapping_bias": True, "variable_stride": True}
DIT_FIXED = {"transformer_type": "continuous_transformer", "global_cond_type": "adaLN", "timestep_cond_type": "global",
             "timestep_features_type": "expo", "timestep_features_logsnr": False, "project_cond_tokens": True,
             "project_global_cond": True, "input_concat_dim": 0, "prepend_cond_dim": 0, "patch_size": 1}
SAME_SHARED = ("channels", "c_mults", "strides", "transformer_depths", "latent_dim", "dim_heads", "ff_mult",
               "sliding_window", "differential")


@dataclass
class TextEncoderRef:
    """Where the release keeps its T5Gemma encoder and tokenizer (not inside model.safetensors)."""

    model_path: str | None = None
    repo_id: str | None = None
    subfolder: str | None = None
    model_name: str = "google/t5gemma-b-b-ul2"


@dataclass
class SA3Config:
    vae: dict[str, Any]
    transformer: dict[str, Any]
    duration: dict[str, Any]
    distilled: bool  # rf_denoiser: 8 ping-pong steps; rectified_flow (base): deterministic Euler
    max_length: int  # prompt tokens
    padding: str  # "learned" or "zero"
    text_encoder: TextEncoderRef = field(default_factory=TextEncoderRef)

    @property
    def max_seconds(self) -> float:
        return float(self.duration["max_val"])


def read_config(path: Path) -> SA3Config:
    """The parsed and checked ``model_config.json``; one-line errors name the file."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelLoadError(f"could not read '{path}': {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ModelLoadError(f"'{path}' is not valid JSON ({exc}); download model_config.json again") from None
    try:
        return _Reader(path).parse(config)
    except (TypeError, ValueError, AttributeError) as exc:  # a number where a list goes, a list where a dict goes
        raise ModelLoadError(f"'{path}' has an entry of the wrong type ({exc}); download model_config.json "
                             "again") from None


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, what: str) -> ModelLoadError:
        return ModelLoadError(f"'{self.path}' {what}; clap convert stable-audio-3 reads the model_config.json "
                              "published beside a Stable Audio 3 model.safetensors")

    def get(self, node: Any, *keys: str) -> Any:
        for index, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                raise self.fail(f"has no '{'.'.join(keys[:index + 1])}' entry: not a Stable Audio 3 model config")
            node = node[key]
        return node

    def parse(self, config: Any) -> SA3Config:
        kind = config.get("model_type") if isinstance(config, dict) else None
        if kind not in ("diffusion_cond", "diffusion_cond_inpaint"):
            raise self.fail(f"is not a Stable Audio 3 model config (model_type {kind!r}, expected 'diffusion_cond')")
        model = self.get(config, "model")
        rate = int(self.get(config, "sample_rate"))
        diffusion = self.get(model, "diffusion")
        objective = diffusion.get("diffusion_objective")
        if objective not in OBJECTIVES:
            raise self.fail(f"uses diffusion objective {objective!r}; diffusers' StableAudio3Pipeline samples "
                            f"{' and '.join(OBJECTIVES)} models only")
        conditioners = {c.get("id"): c for c in self.get(model, "conditioning", "configs") if isinstance(c, dict)}
        prompt, seconds = self._conditioner(conditioners, "prompt", "t5gemma"), self._conditioner(
            conditioners, "seconds_total", "number")
        cond_dim = int(self.get(model, "conditioning", "cond_dim"))
        padding = prompt.get("padding_mode", "zero")
        if padding not in ("learned", "zero"):
            raise self.fail(f"pads prompts with mode {padding!r}; diffusers implements 'learned' and 'zero'")
        if prompt.get("project_out"):
            raise self.fail("projects the text encoder's output (project_out), which diffusers' DiT does not")
        return SA3Config(
            vae=self._vae(model, rate), transformer=self._dit(diffusion, cond_dim), duration=self._duration(seconds,
                                                                                                           cond_dim),
            distilled=OBJECTIVES[objective], max_length=int(prompt.get("max_length", 128)), padding=padding,
            text_encoder=TextEncoderRef(prompt.get("model_path"), prompt.get("repo_id"), prompt.get("subfolder"),
                                        prompt.get("model_name", "google/t5gemma-b-b-ul2")))

    def _conditioner(self, conditioners: dict, ident: str, kind: str) -> dict:
        entry = conditioners.get(ident)
        if entry is None or entry.get("type") != kind:
            raise self.fail(f"has no '{ident}' conditioner of type '{kind}' (diffusers' pipeline conditions on a "
                            "T5Gemma prompt and the total seconds only)")
        extra = sorted(set(conditioners) - {"prompt", "seconds_total"})
        if extra:
            raise self.fail(f"has conditioner(s) {', '.join(map(str, extra))} that diffusers' pipeline does not feed")
        return dict(entry.get("config") or {})

    def _fixed(self, section: dict, fixed: dict, where: str) -> None:
        for option, value in fixed.items():
            if option in section and section[option] != value:
                raise self.fail(f"sets {where}.{option} = {section[option]!r}, which diffusers does not implement "
                                f"(only {value!r})")

    def _vae(self, model: dict, rate: int) -> dict[str, Any]:
        auto = self.get(model, "pretransform", "config")
        encoder = self.get(auto, "encoder", "config")
        decoder = self.get(auto, "decoder", "config")
        self._fixed(encoder, SAME_FIXED, "encoder")
        self._fixed(decoder, SAME_FIXED, "decoder")
        for option in SAME_SHARED:
            if encoder.get(option) != decoder.get(option):
                raise self.fail(f"gives the encoder and decoder different '{option}', which diffusers' "
                                "AutoencoderSAME shares")
        patching = self.get(auto, "pretransform", "config")
        if patching.get("oversampling", 1) != 1 or patching.get("postfilter_channels", 0):
            raise self.fail("uses an oversampling or post-filtered patcher, which diffusers does not implement")
        strides, window = list(self.get(encoder, "strides")), encoder.get("sliding_window")
        if not isinstance(window, list) or not window or len(set(window)) != 1:
            raise self.fail(f"has sliding_window {window!r}; diffusers' AutoencoderSAME needs a symmetric window")
        patch = int(self.get(patching, "patch_size"))
        if "downsampling_ratio" in auto and int(auto["downsampling_ratio"]) != patch * math.prod(strides):
            raise self.fail(f"says downsampling_ratio {auto['downsampling_ratio']} but patch {patch} x strides "
                            f"{strides} give {patch * math.prod(strides)}")
        depth = len(strides)
        encoder_sin, decoder_sin = encoder.get("sinusoidal_blocks", 0), decoder.get("sinusoidal_blocks", [0] * depth)
        # The reference passes the encoder's value to every level (a number) and indexes the decoder's by level.
        if not isinstance(encoder_sin, int) or not isinstance(decoder_sin, list) or len(decoder_sin) < depth:
            raise self.fail(f"has sinusoidal_blocks {encoder_sin!r} / {decoder_sin!r}; expected a number for the "
                            f"encoder and {depth} numbers for the decoder")
        return {
            "audio_channels": int(auto.get("io_channels", patching.get("channels", 2))), "patch_size": patch,
            "encoder_channels": int(self.get(encoder, "channels")),
            "encoder_c_mults": list(self.get(encoder, "c_mults")),
            "encoder_strides": strides, "encoder_transformer_depths": list(self.get(encoder, "transformer_depths")),
            "latent_dim": int(self.get(encoder, "latent_dim")), "use_differential_attention":
                bool(encoder.get("differential", True)), "dim_heads": int(encoder.get("dim_heads", 128)),
            "ff_mult": encoder.get("ff_mult", 3), "sliding_window": int(window[0]),
            "encoder_sinusoidal_blocks": [encoder_sin] * depth,
            "decoder_sinusoidal_blocks": [int(value) for value in decoder_sin[:depth]], "sampling_rate": rate,
        }

    def _dit(self, diffusion: dict, cond_dim: int) -> dict[str, Any]:
        dit = self.get(diffusion, "config")
        self._fixed(dit, DIT_FIXED, "diffusion.config")
        if "local_add_cond_dim" not in dit:
            raise self.fail("has no diffusion.config.local_add_cond_dim; diffusers' DiT always has the inpainting "
                            "input")
        attention = dit.get("attn_kwargs") or {}
        # diffusers' DiT normalises with RMSNorm, queries and keys too (the reference defaults: layer_norm, none).
        if dit.get("norm_type", "layer_norm") != "rms_norm" or attention.get("qk_norm", "none") != "rms":
            raise self.fail(f"normalises the DiT with norm_type {dit.get('norm_type', 'layer_norm')!r} and qk_norm "
                            f"{attention.get('qk_norm', 'none')!r}; diffusers implements 'rms_norm' and 'rms'")
        embed, heads = int(self.get(dit, "embed_dim")), int(self.get(dit, "num_heads"))
        if embed % heads or embed // heads < 64:
            # The reference's rotary embedding spans max(head size / 2, 32) dims, diffusers' head size / 2.
            raise self.fail(f"has heads of {embed / heads:g} dims; diffusers' StableAudio3DiTModel matches the "
                            "reference for heads of 64 dims or more only")
        if int(self.get(dit, "cond_token_dim")) != cond_dim:
            raise self.fail("gives the DiT a cond_token_dim other than the conditioning's cond_dim")
        return {
            "io_channels": int(self.get(dit, "io_channels")), "patch_size": 1, "embed_dim": embed,
            "depth": int(self.get(dit, "depth")), "num_heads": heads, "cond_token_dim": cond_dim,
            "global_cond_dim": int(self.get(dit, "global_cond_dim")),
            "local_add_cond_dim": int(dit["local_add_cond_dim"]),
            "timestep_features_dim": int(dit.get("timestep_features_dim", 256)),
            "ff_mult": float((dit.get("ff_kwargs") or {}).get("mult", 4)),
            "num_memory_tokens": int(dit.get("num_memory_tokens", 0)),
            "use_differential_attention": bool(attention.get("differential", False)),
        }

    def _duration(self, seconds: dict, cond_dim: int) -> dict[str, Any]:
        if seconds.get("fourier_features_type", "learned") != "expo":
            raise self.fail("embeds seconds_total with learned Fourier features; diffusers' duration embedder "
                            "implements 'expo' only")
        low, high = float(seconds.get("min_val", 0)), float(seconds.get("max_val", 1))
        if not high > low:
            raise self.fail(f"gives seconds_total the range {low:g}..{high:g}")
        return {"output_dim": cond_dim, "fourier_dim": 256, "min_val": low, "max_val": high}
