"""The options of ``clap eval classify`` / ``clap eval retrieve`` (one declaration each, same help in both)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clapcli.console.options import EvalFormat, plain

ModelsOpt = Annotated[list[str] | None, typer.Option(
    "--model", "-m", help="Hub id, alias (see 'clap models') or local directory; repeat for one row per "
    "checkpoint. Default: $CLAPCLI_MODEL or laion/clap-htsat-unfused.", show_default=False)]
FormatOpt = Annotated[EvalFormat | None, typer.Option(
    "--format", "-f", case_sensitive=False, callback=plain,
            help="table, csv, json or markdown. Default: table on a terminal, csv when piped, else from "
    "--output's extension.", show_default=False)]
ReportOpt = Annotated[Path | None, typer.Option(
    "--report", help="Write a JSON report: protocol (model, template, folds, long-audio rule, version), every "
    "figure and per-item predictions.", show_default=False, dir_okay=False)]
DbOpt = Annotated[Path | None, typer.Option(
    "--db", help="Keep the audio embeddings in this library (content hashes): a second eval of the same files "
    "only encodes text.", show_default=False, dir_okay=False)]
AudioDirOpt = Annotated[Path | None, typer.Option(
    "--audio", help="Folder the metadata's file names are relative to. Default: the metadata file's folder "
    "(ESC-50/UrbanSound8K: their audio/ folder).", show_default=False, file_okay=False)]
SkipMissingOpt = Annotated[bool, typer.Option(
    "--skip-missing", help="Leave out metadata rows whose file is missing (counted on stderr) instead of failing.")]

DatasetArg = Annotated[Path, typer.Argument(help="Dataset folder (ESC-50, UrbanSound8K, GTZAN, class folders) or a "
                                            "CSV/TSV of path,label[,fold].", show_default=False)]
LayoutOpt = Annotated[str, typer.Option("--layout", help="auto, esc50, urbansound8k, gtzan, folders or csv.")]
FoldOpt = Annotated[list[int] | None, typer.Option("--fold", help="Evaluate only this fold (repeatable). Default: "
                                                   "all, with per-fold figures and their mean.", show_default=False)]
LabelsFileOpt = Annotated[Path | None, typer.Option(
    "--labels-file", help="Label text per class (any language): one line per class in the dataset's class "
    "order, or 'class<TAB>text' lines. Default: class names, '_' -> ' '.", show_default=False, dir_okay=False)]
TemplateOpt = Annotated[str | None, typer.Option("--template", help="Prompt around each label, {} = the label.",
                                                 show_default=False)]
PresetOpt = Annotated[str | None, typer.Option("--preset", help="Named template: laion (\"This is a sound of {}.\"), "
                                               "laion-gtzan (\"This is a {} song.\"), label (\"{}\").",
                                               show_default=False)]
PathColumnOpt = Annotated[str | None, typer.Option("--path-column", help="CSV column with the file path.",
                                                   show_default=False)]
LabelColumnOpt = Annotated[str | None, typer.Option("--label-column", help="CSV column with the class.",
                                                    show_default=False)]
FoldColumnOpt = Annotated[str | None, typer.Option("--fold-column", help="CSV column with the fold (optional).",
                                                   show_default=False)]
ByFoldOpt = Annotated[bool, typer.Option("--by-fold", help="Add one row per fold before each model's row.")]
BootstrapOpt = Annotated[int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for the 95% interval of "
                                           "top-1 (fixed seed; 0 = none).")]
ConfusionOpt = Annotated[Path | None, typer.Option(
    "--confusion", help="Write the confusion matrix as CSV (one file per model: name.<model>.csv).",
    show_default=False, dir_okay=False)]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Write the confusion matrix as a PNG heat map (needs "
                                              "clapcli\\[plot]).", show_default=False, dir_okay=False)]
ProbeShotsOpt = Annotated[str | None, typer.Option(
    "--probe-shots", help="Also train a probe per fold on K examples per class from the other folds (seeded) and "
    "test it on the held-out fold; K,K... for several. Rows: zero-shot and probe side by side.",
    show_default=False)]
