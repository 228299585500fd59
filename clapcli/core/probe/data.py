"""The training sets ``clap train`` reads: every ``clap eval classify`` layout (single-label), and for
``--multi-label`` a CSV/TSV whose label cell holds several labels separated by ';' or '|', or which lists
a file on several rows (one label each). Malformed metadata is refused with the file and line, as eval does.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from clapcli.core.eval.datasets import (
    DatasetError,
    detect_layout,
    file_listed,
    read_classification,
    read_table,
    table_cell,
)
from clapcli.core.probe.train import LabelledSet

LABEL_SEPARATORS = re.compile(r"[;|]")


def read_training_set(path: str | Path, multi_label: bool = False, layout: str = "auto",
                      audio_dir: str | Path | None = None, path_column: str | None = None,
                      label_column: str | None = None, skip_missing: bool = False) -> LabelledSet:
    path = Path(path)
    if not multi_label:
        dataset = read_classification(path, layout, audio_dir, path_column, label_column, None, skip_missing)
        return LabelledSet.from_dataset(dataset)
    if (detect_layout(path) if layout == "auto" else layout) != "csv":
        raise DatasetError(f"{path}: --multi-label reads a CSV/TSV of path,labels (several labels per file, "
                           "separated by ';'); give that file")
    return _multi_label_csv(path, Path(audio_dir) if audio_dir else None, path_column, label_column, skip_missing)


def _multi_label_csv(path: Path, audio: Path | None, path_column: str | None, label_column: str | None,
                     skip_missing: bool) -> LabelledSet:
    table = read_table(path)
    file_col = table.column(path_column, ("path", "filename", "file_name", "file"), "path")
    label_col = table.column(label_column, ("labels", "label", "class", "category"), "label")
    base = audio or path.parent
    labels_of: dict[Path, set[str]] = {}
    skipped = 0
    for number, row in table.rows:
        assert file_col is not None and label_col is not None
        file = base / table_cell(table, number, row, file_col)
        labels = {part.strip() for part in LABEL_SEPARATORS.split(table_cell(table, number, row, label_col))}
        if "" in labels:
            raise DatasetError(f"{table.path}:{number}: an empty label in '{row[label_col]}'")
        if file not in labels_of and not file_listed(file, table, number, skip_missing):
            skipped += 1
            continue
        labels_of.setdefault(file, set()).update(labels)
    classes = sorted(set().union(*labels_of.values())) if labels_of else []
    position = {name: i for i, name in enumerate(classes)}
    targets = np.zeros((len(labels_of), len(classes)), dtype=np.int64)
    for row, labels in enumerate(labels_of.values()):
        targets[row, [position[name] for name in labels]] = 1
    return LabelledSet(path, classes, list(labels_of), targets, True, skipped)
