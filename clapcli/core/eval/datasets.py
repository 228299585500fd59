"""Labelled datasets in the layouts researchers have on disk, read into plain item lists.

Classification: ESC-50 (``meta/esc50.csv`` + ``audio/``), UrbanSound8K (``metadata/UrbanSound8K.csv`` +
``audio/foldN/``), GTZAN (the ten genre folders, also under ``genres/`` or ``genres_original/``), any
folder of class sub-folders, and a CSV/TSV with path and label columns (optional fold column).
Retrieval: Clotho (``file_name,caption_1..caption_5``), AudioCaps (``audiocap_id,youtube_id,
start_time,caption``, one row per caption) and a generic ``path,caption`` CSV.

Malformed metadata stops the run before any model is loaded, with one line naming the file and line:
a missing column, a file that does not exist (``skip_missing`` drops such rows instead), an empty label,
a quoted line break inside a value (the label would not be the one meant), a field over 128 KB, one file
listed with two classes, a class folder without media. A row repeating an earlier one (same file, same
class or caption) is left out, all of them named in one ``ClapcliWarning``.

One piece (~340 lines): every dataset layout shares the same row checks (line numbers, duplicates,
field sizes), and each layout is a short reader on top of them.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clapcli.errors import ClapcliError, ClapcliWarning
from clapcli.media.kinds import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from clapcli.text import plural

MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | IMAGE_EXTENSIONS
GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
CLASSIFY_LAYOUTS = ("auto", "esc50", "urbansound8k", "gtzan", "folders", "csv")
RETRIEVE_LAYOUTS = ("auto", "clotho", "audiocaps", "csv")


class DatasetError(ClapcliError):
    """The dataset's metadata or layout is wrong (one line naming the file and line)."""


def label_text(name: str) -> str:
    """A class name as the papers turned it into label text: ``chirping_birds`` -> ``chirping birds``."""
    return " ".join(name.replace("_", " ").split())


@dataclass
class ClassItem:
    path: Path
    label: int  # index into ClassDataset.classes
    fold: int | None = None


@dataclass
class ClassDataset:
    layout: str
    root: Path
    classes: list[str]  # class names, in the dataset's order
    items: list[ClassItem]
    metadata: Path | None = None
    skipped: int = 0  # rows dropped by skip_missing

    @property
    def folds(self) -> list[int]:
        return sorted({item.fold for item in self.items if item.fold is not None})

    def select_folds(self, folds: Sequence[int]) -> ClassDataset:
        if not folds:
            return self
        unknown = sorted(set(folds) - set(self.folds))
        if unknown:
            have = ", ".join(map(str, self.folds)) or "none"
            raise DatasetError(f"{self.metadata or self.root}: no fold {unknown[0]} (folds: {have})")
        items = [item for item in self.items if item.fold in set(folds)]
        return ClassDataset(self.layout, self.root, self.classes, items, self.metadata, self.skipped)


# ----------------------------------------------------------------------------- CSV reading


@dataclass
class Table:
    path: Path
    header: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (line number, row)

    def column(self, wanted: str | None, candidates: Iterable[str], what: str, required: bool = True) -> str | None:
        """The column named ``wanted`` (an option), else the first of ``candidates`` present."""
        names = [wanted] if wanted else list(candidates)
        for name in names:
            if name in self.header:
                return name
        if not required and not wanted:
            return None
        option = f"--{what}-column"
        raise DatasetError(f"{self.path}:1: no {what} column (looked for {', '.join(repr(n) for n in names)}; "
                           f"columns: {', '.join(self.header)}); name it with {option}")


def read_table(path: Path) -> Table:
    """A CSV or TSV file with a header line (delimiter from the extension, else sniffed)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror})") from None
    first = text.partition("\n")[0]
    if not first.strip():
        raise DatasetError(f"{path}:1: empty file; expected a header line with the column names")
    delimiter = "\t" if path.suffix.lower() == ".tsv" or ("\t" in first and "," not in first) else ","
    rows = _csv_rows(path, text, delimiter)
    _, names = next(rows)
    header = [name.strip() for name in names]
    table = Table(path, header)
    for number, values in rows:
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise DatasetError(f"{path}:{number}: {len(values)} fields where the header has {len(header)}")
        table.rows.append((number, {k: v.strip() for k, v in zip(header, values)}))
    if not table.rows:
        raise DatasetError(f"{path}: no rows after the header")
    return table


def _csv_rows(path: Path, text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) per record. The csv module joins a quoted line break into the value;
    a label or file name holding one is refused rather than read as something else."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    end = 0
    while True:
        start = end + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise DatasetError(f"{path}:{start}: a field longer than 128 KB; is this the metadata table "
                                   "(file names and labels, one row per line)?") from None
            raise DatasetError(f"{path}:{start}: not readable as CSV ({exc})") from None
        end = reader.line_num
        for index, value in enumerate(values):
            if "\n" in value or "\r" in value:
                column = header[index].strip() if index < len(header) else f"field {index + 1}"
                raise DatasetError(f"{path}:{start}: a quoted line break inside '{column}'; put each value on "
                                   "one line")
        header = header or values
        yield start, values


class Repeats:
    """Rows naming what an earlier row named: the same value again is a duplicate (left out, all of them
    named in one warning by ``warn``); another value is refused, naming both lines."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.first: dict[Hashable, tuple[int, str]] = {}
        self.count = 0
        self.example: tuple[int, int] | None = None

    def repeated(self, number: int, key: Hashable, value: str = "", name: str = "") -> bool:
        line, before = self.first.setdefault(key, (number, value))
        if line == number:
            return False
        if before != value:
            raise DatasetError(f"{self.table.path}:{number}: {name} is '{value}' here but '{before}' on line {line}; "
                               "give each file one class")
        self.count += 1
        self.example = self.example or (number, line)
        return True

    def warn(self, what: str = "duplicate metadata row") -> None:
        if self.example is not None:
            number, line = self.example
            warnings.warn(ClapcliWarning(f"{plural(self.count, what)} left out (first: {self.table.path}:{number} "
                                         f"repeats line {line})"), stacklevel=2)


def table_cell(table: Table, number: int, row: dict[str, str], column: str) -> str:
    value = row[column]
    if not value:
        raise DatasetError(f"{table.path}:{number}: empty '{column}'")
    return value


def _fold(table: Table, number: int, row: dict[str, str], column: str | None) -> int | None:
    if column is None:
        return None
    value = table_cell(table, number, row, column)
    try:
        return int(value)
    except ValueError:
        raise DatasetError(f"{table.path}:{number}: fold '{value}' is not a whole number") from None


def file_listed(path: Path, table: Table, number: int, skip_missing: bool) -> bool:
    if path.is_file():
        return True
    if skip_missing:
        return False
    raise DatasetError(f"{table.path}:{number}: no such file '{path}'; fix the path, give --audio DIR, "
                       "or pass --skip-missing to leave such rows out")


# ----------------------------------------------------------------------------- classification


def detect_layout(path: Path) -> str:
    if path.is_file():
        return "csv"
    if not path.is_dir():
        raise DatasetError(f"{path}: no such file or directory")
    if (path / "meta" / "esc50.csv").is_file():
        return "esc50"
    if (path / "metadata" / "UrbanSound8K.csv").is_file():
        return "urbansound8k"
    if _gtzan_root(path) is not None:
        return "gtzan"
    return "folders"


def read_classification(path: str | Path, layout: str = "auto", audio_dir: str | Path | None = None,
                        path_column: str | None = None, label_column: str | None = None,
                        fold_column: str | None = None, skip_missing: bool = False) -> ClassDataset:
    path = Path(path)
    layout = detect_layout(path) if layout == "auto" else layout
    audio = Path(audio_dir) if audio_dir is not None else None
    if layout == "esc50":
        table = read_table(path / "meta" / "esc50.csv")
        return _indexed(table, "esc50", path, audio or path / "audio", "filename", "category", "target", "fold",
                        lambda row: row["filename"], skip_missing)
    if layout == "urbansound8k":
        table = read_table(path / "metadata" / "UrbanSound8K.csv")
        return _indexed(table, "urbansound8k", path, audio or path / "audio", "slice_file_name", "class", "classID",
                        "fold", lambda row: f"fold{row['fold']}/{row['slice_file_name']}", skip_missing)
    if layout == "gtzan":
        root = _gtzan_root(path) or path
        return _folders(root, "gtzan", list(GTZAN_GENRES))
    if layout == "folders":
        if not path.is_dir():
            raise DatasetError(f"{path}: not a directory of class folders")
        return _folders(path, "folders", None)
    if layout == "csv":
        return _labelled_csv(path, audio, path_column, label_column, fold_column, skip_missing)
    raise DatasetError(f"unknown layout '{layout}'; choose one of {', '.join(CLASSIFY_LAYOUTS)}")


def _indexed(table: Table, layout: str, root: Path, audio: Path, file_col: str, class_col: str, index_col: str,
             fold_col: str, relative, skip_missing: bool) -> ClassDataset:
    """ESC-50 / UrbanSound8K: classes ordered by their index column."""
    for column in (file_col, class_col, index_col, fold_col):
        table.column(column, (), column)
    names: dict[int, str] = {}
    rows: list[tuple[Path, int, int]] = []
    skipped = 0
    repeats = Repeats(table)
    for number, row in table.rows:
        name = table_cell(table, number, row, class_col)
        try:
            index = int(table_cell(table, number, row, index_col))
        except ValueError:
            raise DatasetError(f"{table.path}:{number}: '{index_col}' is not a whole number") from None
        if names.setdefault(index, name) != name:
            raise DatasetError(f"{table.path}:{number}: class {index} is '{name}' here but '{names[index]}' before")
        fold = _fold(table, number, row, fold_col)
        listed = table_cell(table, number, row, file_col)
        file = audio / relative(row)
        if repeats.repeated(number, file, name, listed):
            continue
        if not file_listed(file, table, number, skip_missing):
            skipped += 1
            continue
        rows.append((file, index, fold))
    repeats.warn()
    order = sorted(names)
    position = {index: i for i, index in enumerate(order)}
    items = [ClassItem(file, position[index], fold) for file, index, fold in rows]
    return ClassDataset(layout, root, [names[i] for i in order], items, table.path, skipped)


def _labelled_csv(path: Path, audio: Path | None, path_column: str | None, label_column: str | None,
                  fold_column: str | None, skip_missing: bool) -> ClassDataset:
    table = read_table(path)
    file_col = table.column(path_column, ("path", "filename", "file_name", "file"), "path")
    class_col = table.column(label_column, ("label", "class", "category"), "label")
    fold_col = table.column(fold_column, ("fold",), "fold", required=False)
    base = audio or path.parent
    rows: list[tuple[Path, str, int | None]] = []
    skipped = 0
    repeats = Repeats(table)
    for number, row in table.rows:
        listed = table_cell(table, number, row, file_col)
        file = base / listed
        label = table_cell(table, number, row, class_col)
        fold = _fold(table, number, row, fold_col)
        if repeats.repeated(number, file, label, listed):
            continue
        if not file_listed(file, table, number, skip_missing):
            skipped += 1
            continue
        rows.append((file, label, fold))
    repeats.warn()
    classes = sorted({label for _, label, _ in rows})
    position = {name: i for i, name in enumerate(classes)}
    items = [ClassItem(file, position[label], fold) for file, label, fold in rows]
    return ClassDataset("csv", path.parent, classes, items, path, skipped)


def _gtzan_root(path: Path) -> Path | None:
    for candidate in (path, path / "genres_original", path / "genres"):
        if candidate.is_dir() and set(GTZAN_GENRES) <= {p.name for p in candidate.iterdir() if p.is_dir()}:
            return candidate
    return None


def _folders(root: Path, layout: str, names: list[str] | None) -> ClassDataset:
    """One class per sub-folder (sorted by name, or ``names``), media found recursively inside."""
    folders = names or sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        raise DatasetError(f"{root}: found {len(folders)} class folder(s); a folder dataset needs one sub-folder "
                           "per class (at least two)")
    items: list[ClassItem] = []
    for index, name in enumerate(folders):
        files = sorted(media_under(root / name))
        if not files:
            raise DatasetError(f"{root / name}: empty class (no audio or image files); remove the folder or add "
                               "files")
        items.extend(ClassItem(file, index) for file in files)
    return ClassDataset(layout, root, folders, items)


def media_under(directory: Path) -> Iterable[Path]:
    for parent, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in MEDIA_EXTENSIONS:
                yield Path(parent) / name


# ----------------------------------------------------------------------------- retrieval
