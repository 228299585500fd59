"""The conversion driver: checkpoint -> recipe -> model with every key accounted for -> output directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clapcli.errors import InvalidField
from clapcli.models.conversion.checkpoint import existing_checkpoint, load_original_state_dict
from clapcli.models.conversion.keys import KeyMap, check_keys, map_keys
from clapcli.models.conversion.output_dir import prepare_output, write_directory
from clapcli.models.conversion.recipes import ConvertOptions, Recipe, check_family, recipe_for
from clapcli.models.conversion.report import ConversionReport, quiet_transformers
from clapcli.models.conversion.tokenizer import load_tokenizer

SA3_FAMILY = "stable-audio-3"  # clapcli.models.conversion.sa3_convert (imported on use: diffusers)


def convert_checkpoint(
    family: str,
    checkpoint: str | Path,
    output: str | Path,
    tokenizer: str | None = None,
    fused: bool = False,
    amodel: str | None = None,
    overwrite: bool = False,
    text_heads: int | None = None,
    text_encoder: str | None = None,
) -> ConversionReport:
    """Convert one original checkpoint into a Hugging Face directory; returns what was done."""
    if family == SA3_FAMILY:  # a diffusers pipeline, not one transformers model: its own driver
        if tokenizer or fused or amodel:
            raise InvalidField("tokenizer", "{tokenizer}, {fused} and {amodel} apply to CLAP checkpoints; Stable "
                               "Audio 3 takes its T5Gemma with {text_encoder}")
        from clapcli.models.conversion.sa3_convert import convert_sa3

        return convert_sa3(checkpoint, output, text_encoder=text_encoder, overwrite=overwrite)
    if text_encoder:
        raise InvalidField("text_encoder", "{text_encoder} applies to stable-audio-3 checkpoints")
    options = ConvertOptions(fused=fused, amodel=amodel, text_heads=text_heads)
    recipe = recipe_for(family, options)
    output = Path(output).expanduser()
    target = prepare_output(output, existing_checkpoint(checkpoint), overwrite)  # before the slow part
    quiet_transformers()
    source = str(Path(checkpoint).expanduser())
    state = load_original_state_dict(checkpoint)
    check_family(state, recipe, source)
    model, keys = build_model(state, recipe, source, options)
    vocab = model.config.text_config.vocab_size
    loaded = load_tokenizer(tokenizer or recipe.default_tokenizer, vocab, expected=recipe.default_tokenizer)
    write_directory(model, recipe.build_processor(loaded, options), target, output, source)
    return ConversionReport(
        family=recipe.family,
        source=source,
        output=str(target),
        parameters=count_parameters(model),
        mapped_keys=len(keys.mapped),
        dropped_keys=sorted(keys.dropped),
        dropped_patterns=keys.dropped_patterns,
        config={"fused": fused, "audio_width": model.config.audio_config.patch_embeds_hidden_size,
                "audio_depths": list(model.config.audio_config.depths), "projection_dim": model.config.projection_dim},
    )


def build_model(state: dict, recipe: Recipe, source: str, options: ConvertOptions) -> tuple[Any, KeyMap]:
    """(HF model in eval mode holding the checkpoint's weights, how the keys were mapped)."""
    import torch

    config = recipe.build_config(state, source, options)
    keys = map_keys(state, recipe.prefixes, recipe.dropped)
    model = recipe.model_class()(config).eval()
    full = model.state_dict()
    check_keys(full, keys, source, recipe.family, recipe.key_hint(options))
    # Derived buffers keep the values the model built; everything else comes from the checkpoint.
    full.update({k: v.to(full[k].dtype) if v.is_floating_point() else v for k, v in keys.mapped.items()})
    with torch.no_grad():
        model.load_state_dict(full, strict=True)
    return model, keys


def count_parameters(model: Any) -> dict[str, int]:
    """Parameters per top-level module (text_model, audio_model, ...) and their total."""
    groups: dict[str, int] = {}
    for name, tensor in model.named_parameters():
        group = name.split(".", 1)[0]
        groups[group] = groups.get(group, 0) + tensor.numel()
    groups["total"] = sum(groups.values())
    return groups
