"""What an evaluation writes: summary rows (one per checkpoint), the JSON report (protocol, every figure,
per-item predictions), the confusion matrix as CSV and, with matplotlib, as a PNG heat map."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clapcli.core.eval.captions import RetrievalDataset
from clapcli.core.eval.classify import ClassifyResult, item_predictions
from clapcli.core.eval.datasets import ClassDataset
from clapcli.core.eval.presets import published
from clapcli.core.eval.retrieve import RetrieveResult, item_ranks
from clapcli.errors import OutputError, missing_extra
from clapcli.io.target import OutputFile
from clapcli.version import __version__

CLASSIFY_COLUMNS = ["model", "dataset", "fold", "n", "top1", "top1_ci95", "top5", "macro_f1", "fold_mean_top1",
                    "published_top1", "published_source"]
RETRIEVE_COLUMNS = ["model", "dataset", "clips", "captions", "t2a_R@1", "t2a_R@5", "t2a_R@10", "t2a_mAP@10",
                    "a2t_R@1", "a2t_R@5", "a2t_R@10", "t2a_median_rank", "a2t_median_rank"]


def _interval(figures) -> str:
    return f"{figures.ci_low:.4f}-{figures.ci_high:.4f}"


def classify_rows(result: ClassifyResult, dataset: ClassDataset, by_fold: bool = False) -> list[dict]:
    quoted = published(result.model_id, dataset.layout)
    overall = result.overall
    rows = []
    if by_fold:
        for fold, figures in result.per_fold.items():
            rows.append({"model": result.model_id, "dataset": dataset.layout, "fold": fold, "n": figures.n,
                         "top1": figures.top1, "top1_ci95": _interval(figures), "top5": figures.top5,
                         "macro_f1": figures.macro_f1})
    rows.append({
        "model": result.model_id, "dataset": dataset.layout, "fold": "all", "n": overall.n, "top1": overall.top1,
        "top1_ci95": _interval(overall), "top5": overall.top5, "macro_f1": overall.macro_f1,
        "fold_mean_top1": result.fold_mean("top1"),
        "published_top1": None if quoted is None else quoted.value,
        "published_source": None if quoted is None else quoted.source,
    })
    return rows


def retrieve_rows(result: RetrieveResult, dataset: RetrievalDataset) -> list[dict]:
    f = result.figures
    return [{
        "model": result.model_id, "dataset": dataset.layout, "clips": f["clips"], "captions": f["captions"],
        **{f"t2a_{k}": f[f"text_to_audio_{k}"] for k in ("R@1", "R@5", "R@10", "mAP@10", "median_rank")},
        **{f"a2t_{k}": f[f"audio_to_text_{k}"] for k in ("R@1", "R@5", "R@10", "median_rank")},
    }]


def protocol(model: Any, template: str | None, template_source: str | None, extra: dict) -> dict:
    return {
        "clapcli_version": __version__,
        "model": model.model_id,
        "revision": getattr(model, "revision", None),
        "family": getattr(model, "family", None),
        "long_audio": getattr(model, "long_audio", None),
        "sample_rate": getattr(model, "sample_rate", None),
        "template": template,
        "template_source": template_source,
        **extra,
    }


def classify_report(runs: Sequence[tuple[Any, ClassifyResult, str | None]], dataset: ClassDataset,
                    bootstrap: int, folds: Sequence[int]) -> dict:
    """``runs``: (model, result, template source) per checkpoint."""
    entries = []
    for model, result, template_source in runs:
        quoted = published(result.model_id, dataset.layout)
        entries.append({
            "protocol": protocol(model, result.template, template_source, {
                "label_texts": dict(zip(dataset.classes, result.label_texts)),
                "bootstrap_samples": bootstrap, "bootstrap_seed": 0, "folds": list(folds) or dataset.folds,
            }),
            "figures": result.overall.as_dict(dataset.classes),
            "per_fold": {str(k): v.as_dict(dataset.classes) for k, v in result.per_fold.items()},
            "fold_mean": {m: result.fold_mean(m) for m in ("top1", "top5", "macro_f1")} if result.per_fold else None,
            "published": None if quoted is None else {"metric": quoted.metric, "value": quoted.value,
                                                      "source": quoted.source},
            "confusion": {"classes": dataset.classes, "matrix": result.overall.matrix.tolist()},
            "failed": [{"path": f.source, "error": f.reason} for f in result.failed],
            "predictions": item_predictions(result, dataset),
        })
    return {"task": "classify", "dataset": _dataset_info(dataset), "models": entries}


def retrieve_report(runs: Sequence[tuple[Any, RetrieveResult]], dataset: RetrievalDataset) -> dict:
    entries = [{
        "protocol": protocol(model, None, None, {"similarity": "cosine", "metrics": "LAION-CLAP evaluate_clotho_"
                                                 "audiocaps / get_metrics"}),
        "figures": result.figures,
        "failed": [{"path": f.source, "error": f.reason} for f in result.failed],
        "ranks": item_ranks(result, dataset),
    } for model, result in runs]
    info = {"layout": dataset.layout, "metadata": str(dataset.metadata), "clips": len(dataset.clips),
            "captions": len(dataset.captions), "rows_skipped": dataset.skipped}
    return {"task": "retrieve", "dataset": info, "models": entries}


def _dataset_info(dataset: ClassDataset) -> dict:
    return {"layout": dataset.layout, "root": str(dataset.root),
            "metadata": None if dataset.metadata is None else str(dataset.metadata),
            "classes": dataset.classes, "items": len(dataset.items), "folds": dataset.folds,
            "rows_skipped": dataset.skipped}


def _clean(value: Any) -> Any:
    """JSON has no NaN: undefined figures become null."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def write_text(path: Path, text: str, overwrite: bool, label: str) -> None:
    target = OutputFile(path, overwrite, binary=False, label=label)
    try:
        target.handle.write(text)
    except OSError as exc:
        raise target.write_failed(exc) from None
    target.commit()


def write_json_report(path: Path, report: dict, overwrite: bool) -> None:
    write_text(path, json.dumps(_clean(report), ensure_ascii=False, indent=2) + "\n", overwrite, "--report")


def confusion_csv(matrix: np.ndarray, classes: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["truth \\ predicted", *classes])
    for name, row in zip(classes, matrix):
        writer.writerow([name, *map(int, row)])
    return buffer.getvalue()


def per_model_path(path: Path, model_id: str, several: bool) -> Path:
    """``path`` itself for one model; ``stem.<model>.ext`` beside it for several."""
    if not several:
        return path
    slug = "".join(c if c.isalnum() or c in "-." else "_" for c in model_id.strip("/")).strip("._") or "model"
    return path.with_name(f"{path.stem}.{slug}{path.suffix}")


def check_plot_available() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise missing_extra("matplotlib", "plot") from None


def plot_confusion(path: Path, matrix: np.ndarray, classes: Sequence[str], title: str, overwrite: bool) -> None:
    """A row-normalized heat map (each row = one true class) as PNG."""
    check_plot_available()
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    size = max(4.0, min(24.0, 0.3 * len(classes) + 2))
    figure = Figure(figsize=(size + 1, size))
    axes = figure.add_subplot()
    image = axes.imshow(share, vmin=0, vmax=1, cmap="viridis")
    axes.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    axes.set_yticks(range(len(classes)), classes, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("truth")
    axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    target = OutputFile(path, overwrite, binary=True, label="--plot")
    try:
        target.handle.write(buffer.getvalue())
    except OSError as exc:
        raise target.write_failed(exc) from None
    target.commit()


def check_outputs(paths: Sequence[Path], overwrite: bool) -> None:
    """Fail before any model loads on an output that must not be written."""
    seen: set[Path] = set()
    for path in paths:
        if path in seen:
            raise OutputError(f"{path} is given twice as an output")
        seen.add(path)
        OutputFile(path, overwrite, binary=False)
