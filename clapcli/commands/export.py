"""``clap export``: a model's audio (or image) and text towers as OpenVINO IR or ONNX, for the fastest CPU runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clapcli.console.options import ExportFormat, QuietOpt, plain

EPILOG = """\
Examples:

  clap export laion/clap-htsat-unfused ./clap-ov               # OpenVINO IR (default)

  clap export msclap-2023 ./msclap-onnx --format onnx           # ONNX (ONNX Runtime)

  clap embed sounds/ --model ./clap-ov --output sounds.parquet  # runs on OpenVINO, without torch

  clap classify dog.wav --labels "dog,rain" --runtime openvino  # exports to the cache on first use

  clap export BAAI/AltCLIP ./altclip-ov                          # AltCLIP / CLIP: image and text towers

  clap export pe-a-frame-base ./pe-frame-ov                     # PE-Audio: clip and frame embeddings

  clap classify photos/ --model ./altclip-ov --labels "一只猫,a dog"  # images, without torch

The directory holds audio (or image) and text towers (with projections; dynamic batch and text
length), the tokenizer, the feature or image-processor settings and clapcli-export.json: source
model and revision, clapcli version, precision, and the agreement with torch measured at export
(max difference, min cosine).
LAION CLAP, MS-CLAP, AltCLIP, CLIP and PE-Audio export. A fused LAION checkpoint gets a second audio
tower (audio_fusion) for long clips' fused stacks, so --long-audio fusion (its default) runs exported too.
PE-Audio's audio tower takes raw samples of any length; the manifest keeps its logit scale and bias
(sigmoid scoring), and a frame-level model's frame embeddings (clap detect) are a second output.
Needs the 'openvino' extra of clapcli (the 'onnx' extra for --format onnx).
"""


def export(
    model: Annotated[str, typer.Argument(help="Hub id, alias (see 'clap models') or local checkpoint directory.",
                                         show_default=False)],
    directory: Annotated[Path, typer.Argument(help="Directory to write the export to (new or empty).",
                                              show_default=False, file_okay=False)],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
                                              help="openvino (OpenVINO IR) or onnx (ONNX Runtime).")]
    = "openvino",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier export in DIRECTORY "
                                            "(never a directory holding other files).")] = False,
    json_report: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON on stdout.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Export a model's audio (or image) and text towers as OpenVINO IR or ONNX, with a manifest."""
    from dataclasses import asdict

    from clapcli.console.output import Output
    from clapcli.models.runtime.export import EXPORT_STEPS, check_extras, export_model

    check_extras(fmt)
    out = Output(quiet)
    with out.progress(EXPORT_STEPS, f"exporting to {fmt}") as advance:
        manifest = export_model(model, directory, fmt, overwrite, on_step=lambda _label: advance(1))
    if json_report:
        out.json(asdict(manifest))
        return
    agreement = manifest.agreement
    size = sum(manifest.files.values()) / 1e6
    out.note(f"exported {manifest.source_model} ({manifest.family}) to {directory} as {fmt}: "
             f"{size:.1f} MB in {manifest.export_seconds:.1f} s")
    media = manifest.media_tower  # "audio", or "image" for AltCLIP / CLIP
    out.note(f"agreement with torch float32: {media} max diff {agreement[f'{media}_max_abs_diff']:.1e} "
             f"(cosine >= {agreement[f'{media}_min_cosine']:.6f}), text max diff {agreement['text_max_abs_diff']:.1e} "
             f"(cosine >= {agreement['text_min_cosine']:.6f})")
    if "fusion_max_abs_diff" in agreement:
        out.note(f"long audio through the fusion tower: max diff {agreement['fusion_max_abs_diff']:.1e} "
                 f"(cosine >= {agreement['fusion_min_cosine']:.6f})")
    if "frame_scores_max_abs_diff" in agreement:
        out.note(f"frame scores: max diff {agreement['frame_scores_max_abs_diff']:.1e} "
                 f"(cosine >= {agreement['frame_scores_min_cosine']:.6f})")
    out.note(f"use it with: clap embed FILES --model {directory}")


def register(app: typer.Typer) -> None:
    app.command("export", epilog=EPILOG)(export)
