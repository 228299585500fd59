"""``clap eval classify``'s files beside the rows: the outputs checked before any model loads, the
confusion matrix as CSV and PNG; and the one line describing the dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clapcli.text import plural


def dataset_line(data: Any) -> str:
    """'esc50: 2000 items, 50 classes, folds 1, 2, 3, 4, 5'"""
    folds = f", folds {', '.join(map(str, data.folds))}" if data.folds else ""
    return f"{data.layout}: {plural(len(data.items), 'item')}, {plural(len(data.classes), 'class', 'classes')}{folds}"


def check_classify_outputs(output: Path | None, report: Path | None, confusion: Path | None, plot: Path | None,
                            models: list, overwrite: bool) -> None:
    """Every file the run will write (one --confusion / --plot per model) is free, before any model loads."""
    from clapcli.core.eval import report as rep

    outputs = [p for p in (output, report) if p is not None]
    outputs += [rep.per_model_path(p, m or "default", len(models) > 1) for p in (confusion, plot) if p
                for m in models]
    rep.check_outputs(outputs, overwrite)
    if plot is not None:
        rep.check_plot_available()


def confusion_files(loaded: Any, result: Any, data: Any, name: str | None, several: bool, confusion: Path | None,
                     plot: Path | None, overwrite: bool) -> None:
    """--confusion (CSV) and --plot (PNG) of one checkpoint."""
    from clapcli.core.eval import report as rep

    matrix = result.overall.matrix
    if confusion is not None:
        rep.write_text(rep.per_model_path(confusion, name or "default", several),
                       rep.confusion_csv(matrix, data.classes), overwrite, "--confusion")
    if plot is not None:
        rep.plot_confusion(rep.per_model_path(plot, name or "default", several), matrix, data.classes,
                           f"{loaded.model_id} on {data.layout}: top-1 {result.overall.top1:.4f}", overwrite)
