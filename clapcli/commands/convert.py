"""``clap convert``: original MS-CLAP / LAION-CLAP checkpoints -> a Hugging Face model directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clapcli.console.options import ConvertFormat, QuietOpt, plain

if TYPE_CHECKING:
    from clapcli.console.output import Output
    from clapcli.models.conversion import ConversionReport

FORMATS = ("text", "json")


def convert(
    family: Annotated[str, typer.Argument(help="Checkpoint family: msclap (CLAP_weights_2023.pth), laion (*.pt) or "
                                          "stable-audio-3 (model_config.json + model.safetensors).")],
    checkpoint: Annotated[Path, typer.Argument(help="The original checkpoint file (stable-audio-3: its folder, "
                                               "weights file or hub id).", show_default=False)],
    output: Annotated[Path, typer.Argument(help="Directory to write the Hugging Face model to.", show_default=False)],
    tokenizer: Annotated[
        str | None,
        typer.Option("--tokenizer", help="Tokenizer directory or hub id. Default: gpt2 (msclap), roberta-base (laion).",
                     show_default=False),
    ] = None,
    fused: Annotated[bool, typer.Option("--fused", help="LAION: the checkpoint uses feature fusion.")] = False,
    amodel: Annotated[
        str | None,
        typer.Option("--amodel", help="LAION: audio tower, HTSAT-tiny or HTSAT-base (checked against the weights).",
                     show_default=False),
    ] = None,
    text_encoder: Annotated[
        str | None,
        typer.Option("--text-encoder", help="Stable Audio 3: T5Gemma encoder + tokenizer folder or hub id. Default: "
                     "the one model_config.json names (the release's t5gemma-b-b-ul2 folder).", show_default=False),
    ] = None,
    output_format: Annotated[ConvertFormat, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
                                                       help="Report format: text (stderr) or json (stdout).")]
    = "text",
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an output directory an earlier clap convert wrote "
                     "(never one holding other files)."),
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Convert an original MS-CLAP, LAION-CLAP or Stable Audio 3 checkpoint so --model and from_pretrained load it.

    The checkpoint is read without running pickled code; every key is mapped or listed as dropped.
    """
    from clapcli.console.output import Output
    from clapcli.errors import UsageError

    if output_format not in FORMATS:
        raise UsageError(f"--format {output_format!r}: choose one of {', '.join(FORMATS)}")
    from clapcli.models.conversion import convert_checkpoint

    report = convert_checkpoint(family, str(checkpoint), output, tokenizer=tokenizer, fused=fused, amodel=amodel,
                                overwrite=overwrite, text_encoder=text_encoder)
    out = Output(quiet=quiet)
    if output_format == "json":
        out.json(report.to_dict())
    else:
        _print_report(report, out)


def _print_report(report: ConversionReport, out: Output) -> None:
    params = ", ".join(f"{name} {count:,}" for name, count in report.parameters.items() if name != "total")
    out.note(f"converted {report.family} checkpoint {report.source} -> {report.output}")
    out.note(f"parameters: {report.parameters['total']:,} ({params})")
    dropped = len(report.dropped_keys) or sum(report.dropped_patterns.values())
    out.note(f"keys: {report.mapped_keys} written, {dropped} dropped intentionally")
    if "max_seconds" in report.config:  # Stable Audio 3
        out.note(f"longest clip: {report.config['max_seconds']:g} s; text encoder: {report.config['text_encoder']}")
    how = ":" if report.family == "stable-audio-3" else " matching"  # its keys name reasons, not patterns
    for pattern, count in sorted(report.dropped_patterns.items()):
        out.note(f"  dropped {count} key(s){how} {pattern}")


def register(app: typer.Typer) -> None:
    app.command("convert")(convert)
