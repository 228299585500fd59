"""Prompt templates and published figures, each with where it comes from.

Only figures whose source we could read are quoted (see the README section "Reproducing published
numbers"); a figure reproduced by ``clap eval`` differs from a published one whenever the protocol
differs (template, folds, long-audio rule, the checkpoint's training data overlapping the test set).
"""

from __future__ import annotations

from dataclasses import dataclass

from clapcli.errors import InvalidField

_LAION_EVAL = "LAION-CLAP code, laion_clap/evaluate/eval_zeroshot_classification.py (laion-clap 1.1.7)"


@dataclass(frozen=True)
class Template:
    text: str
    source: str


TEMPLATES: dict[str, Template] = {
    "laion": Template("This is a sound of {}.", _LAION_EVAL + ": every dataset but GTZAN"),
    "laion-gtzan": Template("This is a {} song.", _LAION_EVAL + ": GTZAN"),
    "label": Template("{}", "the bare label text, no prompt"),
}

# The template each layout's protocol uses when neither --template nor --preset is given (LAION's
# evaluation code picks the GTZAN one by dataset name). Other layouts use the model's own default.
LAYOUT_TEMPLATE = {"esc50": "laion", "urbansound8k": "laion", "gtzan": "laion-gtzan"}


@dataclass(frozen=True)
class Published:
    model: str  # hub id
    layout: str  # dataset layout the figure is for
    metric: str
    value: float  # a fraction (0.8998 = 89.98 %)
    source: str


# ESC-50 zero-shot top-1 accuracy of the larger LAION checkpoints, as the released checkpoint file names
# carry it (LAION-CLAP README, "Pretrained Models"); which file each hub id was converted from is stated on
# the hub model cards. No other figure is quoted: the ones we could not read from their source here are
# listed as unverified in the README rather than guessed.
PUBLISHED: tuple[Published, ...] = (
    Published("laion/larger_clap_general", "esc50", "top1", 0.8998,
              "LAION-CLAP README: checkpoint music_speech_audioset_epoch_15_esc_89.98.pt"),
    Published("laion/larger_clap_music", "esc50", "top1", 0.9014,
              "LAION-CLAP README: checkpoint music_audioset_epoch_15_esc_90.14.pt"),
    Published("laion/larger_clap_music_and_speech", "esc50", "top1", 0.8925,
              "LAION-CLAP README: checkpoint music_speech_epoch_15_esc_89.25.pt"),
)


def resolve_template(template: str | None, preset: str | None, layout: str) -> tuple[str | None, str]:
    """(template text or None for the model's default, where it comes from)."""
    if template is not None and preset is not None:
        raise InvalidField("template", "give {template} or {preset}, not both")
    if template is not None:
        if "{}" not in template:
            raise InvalidField("template", "{template} {value!r} must contain '{{}}' where the label goes",
                               value=template)
        return template, "--template"
    name = preset or LAYOUT_TEMPLATE.get(layout)
    if name is None:
        return None, "the model's default template"
    if name not in TEMPLATES:
        raise InvalidField("preset", "{preset} {value}: unknown; choose one of {known}", value=name,
                           known=", ".join(TEMPLATES))
    chosen = TEMPLATES[name]
    return chosen.text, f"preset '{name}' ({chosen.source})"


def published(model_id: str, layout: str, metric: str = "top1") -> Published | None:
    return next((p for p in PUBLISHED if p.model == model_id and p.layout == layout and p.metric == metric), None)
