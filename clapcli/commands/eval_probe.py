"""``clap eval classify --probe-shots``: the shot counts checked up front, and the probe rows beside the
zero-shot ones (the work is ``clapcli.core.probe.shots``)."""

from __future__ import annotations

from typing import Any


def shot_counts(value: str | None, data: Any) -> list[int]:
    """--probe-shots 1,4,16 -> [1, 4, 16], checked before any model loads."""
    from clapcli.errors import InvalidField

    if value is None:
        return []
    try:
        shots = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise InvalidField("probe_shots", "{probe_shots} takes whole numbers, e.g. 1,4,16") from None
    if not shots or min(shots) < 1:
        raise InvalidField("probe_shots", "{probe_shots} takes whole numbers >= 1, e.g. 1,4,16")
    if len(data.folds) < 2:
        raise InvalidField("probe_shots", "{probe_shots} needs a dataset with two or more folds (ESC-50, "
                           "UrbanSound8K, or a CSV with a fold column)")
    return shots


def with_method(columns: list[str], shots: list[int]) -> list[str]:
    """A 'method' column after 'model' when probes are compared with zero-shot."""
    return columns[:1] + ["method"] + columns[1:] if shots else columns


def with_probe_rows(result: Any, data: Any, by_fold: bool, shots: list[int], bootstrap: int) -> list[dict]:
    """The zero-shot rows, then one row per shot count: its probe tested on every held-out fold."""
    import numpy as np

    from clapcli.core.eval import report as rep
    from clapcli.core.probe.shots import probe_shot_figures

    rows = rep.classify_rows(result, data, by_fold)
    if not shots:
        return rows
    labels = np.array([data.items[i].label for i in result.items], dtype=np.int64)
    folds = np.array([data.items[i].fold for i in result.items], dtype=np.int64)
    for row in rows:
        row["method"] = "zero-shot"
    for k in shots:
        overall, per_fold = probe_shot_figures(result.embeddings, labels, folds, result.label_embeddings,
                                               result.logit_scale, data.classes, k, bootstrap)
        figures = [(fold, f) for fold, f in per_fold.items()] if by_fold else []
        for fold, f in [*figures, ("all", overall)]:
            rows.append({"model": result.model_id, "method": f"probe {k}-shot", "dataset": data.layout, "fold": fold,
                         "n": f.n, "top1": f.top1, "top1_ci95": f"{f.ci_low:.4f}-{f.ci_high:.4f}", "top5": f.top5,
                         "macro_f1": f.macro_f1, "fold_mean_top1": float(np.mean([v.top1 for v in per_fold.values()]))
                         if fold == "all" else None})
    return rows
