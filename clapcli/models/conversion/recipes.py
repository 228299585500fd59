"""One recipe per checkpoint family: everything that differs between MS-CLAP and LAION-CLAP conversion.

A recipe names where the original's keys go (prefix rules; the HTSAT audio tower both share is
renamed once, in ``keys``), which keys are dropped on purpose and why, how the target config is
read from the shapes, the target model class, and the processor saved beside it. Adding a family
is adding a recipe to ``RECIPES``; the driver in ``convert`` never branches on the family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clapcli.errors import InvalidField, ModelLoadError, UsageError
from clapcli.models.conversion.keys import PrefixRule
from clapcli.models.conversion.shapes import infer_gpt2, infer_htsat, infer_roberta, rows

LAION_AMODELS = {"HTSAT-tiny": (96, [2, 2, 6, 2]), "HTSAT-base": (128, [2, 2, 12, 2])}


@dataclass(frozen=True)
class ConvertOptions:
    """What the user chose beyond the checkpoint: LAION's ``--fused`` / ``--amodel``, text head count."""

    fused: bool = False
    amodel: str | None = None
    text_heads: int | None = None


def _no_hint(options: ConvertOptions) -> str:
    return ""


@dataclass(frozen=True)
class Recipe:
    family: str
    prefixes: tuple[PrefixRule, ...]
    dropped: tuple[str, ...]  # patterns of original keys left out on purpose (HTSAT's own come on top)
    default_tokenizer: str
    build_config: Callable[[dict, str, ConvertOptions], Any]  # (state, source, options) -> HF config
    model_class: Callable[[], type]  # imported on use: transformers takes seconds to import
    build_processor: Callable[[Any, ConvertOptions], Any]  # (tokenizer, options) -> processor
    audio_options: bool = False  # --fused and --amodel apply
    key_hint: Callable[[ConvertOptions], str] = _no_hint  # appended to unexpected/missing-key errors


# --------------------------------------------------------------------------- MS-CLAP

def _msclap_config(state: dict, source: str, options: ConvertOptions) -> Any:
    from clapcli.models.msclap.configuration import MSClapAudioConfig, MSClapConfig, MSClapTextConfig

    audio = infer_htsat(state, "audio_encoder.base.htsat.", source)
    projection = rows(state, "audio_encoder.projection.linear1.weight", source)
    text = infer_gpt2(state, "caption_encoder.base.", source, options.text_heads)
    return MSClapConfig.from_text_audio_configs(
        MSClapTextConfig(projection_dim=projection, **text),
        MSClapAudioConfig(projection_dim=projection, **audio),
        projection_dim=projection,
    )


def _msclap_model() -> type:
    from clapcli.models.msclap.modeling import MSClapModel

    return MSClapModel


def _msclap_processor(tokenizer: Any, options: ConvertOptions) -> Any:
    from clapcli.models.msclap.feature_extraction import MSClapFeatureExtractor
    from clapcli.models.msclap.processing import MSClapProcessor

    return MSClapProcessor(MSClapFeatureExtractor(), tokenizer)


MSCLAP = Recipe(
    family="msclap",
    prefixes=(
        PrefixRule("audio_encoder.base.htsat.", "audio_model.audio_encoder.", htsat=True),
        PrefixRule("audio_encoder.projection.", "audio_projection."),
        PrefixRule("caption_encoder.base.", "text_model."),
        PrefixRule("caption_encoder.projection.", "text_projection."),
        PrefixRule("logit_scale", "logit_scale"),
    ),
    dropped=(r"^caption_encoder\.base\.h\.\d+\.attn\.(bias|masked_bias)$",),  # old GPT-2 mask buffers
    default_tokenizer="gpt2",
    build_config=_msclap_config,
    model_class=_msclap_model,
    build_processor=_msclap_processor,
)


# --------------------------------------------------------------------------- LAION-CLAP

def _laion_config(state: dict, source: str, options: ConvertOptions) -> Any:
    from transformers import ClapConfig

    audio = infer_htsat(state, "audio_branch.", source)
    if options.amodel is not None:
        _check_amodel(audio, options.amodel, source)
    projection = rows(state, "audio_projection.0.weight", source)
    audio.update(enable_fusion=options.fused, projection_dim=projection)
    text = infer_roberta(state, "text_branch.", source, options.text_heads)
    text["projection_dim"] = projection
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=projection)


def _check_amodel(audio: dict, amodel: str, source: str) -> None:
    """--amodel is a claim about the weights: check it instead of trusting it."""
    if amodel not in LAION_AMODELS:
        raise InvalidField("amodel", "{amodel} {value!r}: choose one of {choices}", value=amodel,
                           choices=", ".join(LAION_AMODELS))
    embed, depths = LAION_AMODELS[amodel]
    if (audio["patch_embeds_hidden_size"], audio["depths"]) != (embed, depths):
        raise ModelLoadError(
            f"checkpoint '{source}' is not {amodel} (audio width {audio['patch_embeds_hidden_size']}, "
            f"depths {audio['depths']}); pass the matching --amodel"
        )


def _laion_model() -> type:
    from transformers import ClapModel

    return ClapModel


def _laion_processor(tokenizer: Any, options: ConvertOptions) -> Any:
    from transformers import ClapFeatureExtractor, ClapProcessor

    # LAION trained with fmin 50 Hz (ClapFeatureExtractor defaults to 0), as laion/clap-htsat-* configs say.
    extractor = ClapFeatureExtractor(
        truncation="fusion" if options.fused else "rand_trunc", padding="repeatpad",
        frequency_min=50, frequency_max=14000,
    )
    return ClapProcessor(extractor, tokenizer)


def _laion_hint(options: ConvertOptions) -> str:
    # A fusion checkpoint has extra audio keys; a wrong --fused is the usual cause of key errors.
    return " (not a fusion checkpoint? drop --fused)" if options.fused else " (a fusion checkpoint? pass --fused)"


LAION = Recipe(
    family="laion",
    prefixes=(
        PrefixRule("audio_branch.", "audio_model.audio_encoder.", htsat=True),
        PrefixRule("text_branch.", "text_model."),
        PrefixRule("text_projection.0.", "text_projection.linear1."),
        PrefixRule("text_projection.2.", "text_projection.linear2."),
        PrefixRule("audio_projection.0.", "audio_projection.linear1."),
        PrefixRule("audio_projection.2.", "audio_projection.linear2."),
        PrefixRule("logit_scale_a", "logit_scale_a"),
        PrefixRule("logit_scale_t", "logit_scale_t"),
    ),
    # The MLPs after the projections are used in training only; position_ids is a buffer older
    # transformers saved and newer ones rebuild.
    dropped=(r"^text_transform\.", r"^audio_transform\.", r"^text_branch\.embeddings\.position_ids$"),
    default_tokenizer="roberta-base",
    build_config=_laion_config,
    model_class=_laion_model,
    build_processor=_laion_processor,
    audio_options=True,
    key_hint=_laion_hint,
)

RECIPES: dict[str, Recipe] = {recipe.family: recipe for recipe in (MSCLAP, LAION)}
FAMILIES = tuple(RECIPES)


def _covers(recipe: Recipe, state: dict) -> bool:
    """At least half of the checkpoint's keys start with one of the recipe's prefixes."""
    keys = list(state)
    matched = sum(any(key.startswith(rule.source) for rule in recipe.prefixes) for key in keys)
    return bool(keys) and 2 * matched >= len(keys)


def looks_like(state: dict) -> str | None:
    """The first family whose key prefixes cover most of the checkpoint's keys (None when none does)."""
    return next((family for family, recipe in RECIPES.items() if _covers(recipe, state)), None)


def check_family(state: dict, recipe: Recipe, source: str) -> None:
    """A checkpoint of another family is named as such, before its keys are reported one by one."""
    if _covers(recipe, state):
        return
    family = looks_like(state)
    if family is not None:
        prefixes = ", ".join(sorted({rule.source.split(".", 1)[0] + "." for rule in RECIPES[family].prefixes
                                     if rule.source.endswith(".")}))
        raise ModelLoadError(f"checkpoint '{source}' looks like the {family} family, not {recipe.family} (its "
                             f"keys start with {prefixes}); run 'clap convert {family} {source} OUTPUT'")


def recipe_for(family: str, options: ConvertOptions) -> Recipe:
    """The family's recipe, after refusing options that do not apply to it."""
    recipe = RECIPES.get(family)
    if recipe is None:
        raise UsageError(f"unknown checkpoint family {family!r}; choose one of {', '.join(FAMILIES)}, "
                         "stable-audio-3")
    if not recipe.audio_options and (options.fused or options.amodel):
        accepting = ", ".join(f"'{r.family}'" for r in RECIPES.values() if r.audio_options)
        raise InvalidField("fused", "{fused} and {amodel} apply to {accepting} checkpoints only", accepting=accepting)
    return recipe
