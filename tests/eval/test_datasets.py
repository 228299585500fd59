"""Each layout read into items; malformed metadata stops with one line naming the file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from eval_data import ESC_CLASSES, US8K_CLASSES, write_clip, write_csv

from clapcli.core.eval.captions import read_retrieval
from clapcli.core.eval.classify import display_labels
from clapcli.core.eval.datasets import (
    GTZAN_GENRES,
    DatasetError,
    detect_layout,
    label_text,
    read_classification,
)


def test_esc50_layout(esc50_dir: Path):
    data = read_classification(esc50_dir)
    assert data.layout == "esc50" and data.classes == ESC_CLASSES and data.folds == [1, 2]
    assert len(data.items) == 12 and all(item.path.is_file() for item in data.items)
    assert display_labels(data, None) == ["dog", "chirping birds", "vacuum cleaner"]
    assert [i.fold for i in data.select_folds([2]).items] == [2] * 6


def test_urbansound8k_layout(us8k_dir: Path):
    data = read_classification(us8k_dir)
    assert data.layout == "urbansound8k" and data.classes == US8K_CLASSES and data.folds == [1, 2, 3]
    assert all(item.path.parent.name == f"fold{item.fold}" for item in data.items)


def test_gtzan_folders_and_csv(gtzan_dir: Path, folders_dir: Path, labels_csv: Path):
    gtzan = read_classification(gtzan_dir)
    assert gtzan.layout == "gtzan" and gtzan.classes == list(GTZAN_GENRES) and len(gtzan.items) == 10
    folders = read_classification(folders_dir)
    assert folders.layout == "folders" and folders.classes == ["rain", "speech", "tone_high"]
    assert len(folders.items) == 6  # notes.txt and labels.csv are not media
    table = read_classification(labels_csv)
    assert table.layout == "csv" and table.classes == folders.classes and table.folds == [1, 2]
    assert [i.path for i in table.items] == sorted(i.path for i in folders.items)


def test_tsv_with_named_columns(folders_dir: Path, tmp_path: Path):
    rows = [[str(folders_dir / name / "0.wav"), name] for name in ("rain", "speech")]
    tsv = write_csv(tmp_path / "set.tsv", ["file", "klass"], rows, delimiter="\t")
    data = read_classification(tsv, label_column="klass")
    assert data.classes == ["rain", "speech"] and len(data.items) == 2


def test_label_text_and_labels_file(esc50_dir: Path):
    assert label_text("chirping_birds") == "chirping birds" and label_text("  a__b ") == "a b"
    data = read_classification(esc50_dir)
    assert display_labels(data, ["chien", "oiseaux", "aspirateur"]) == ["chien", "oiseaux", "aspirateur"]
    mapped = display_labels(data, ["vacuum_cleaner\t吸尘器", "dog\t狗", "chirping_birds\t鸟"])
    assert mapped == ["狗", "鸟", "吸尘器"]
    with pytest.raises(DatasetError, match="2 lines for 3 classes"):
        display_labels(data, ["a", "b"], "labels.txt")
    with pytest.raises(DatasetError, match=r"labels.txt:2: 'cat' is not a class"):
        display_labels(data, ["dog\td", "cat\tc"], "labels.txt")
    with pytest.raises(DatasetError, match="same label text"):
        display_labels(data, ["x", "x", "y"])


def test_retrieval_layouts(clotho_csv: Path, audiocaps_csv: Path, folders_dir: Path, tmp_path: Path):
    clotho = read_retrieval(clotho_csv, clotho_csv.parent / "evaluation")
    assert clotho.layout == "clotho" and len(clotho.clips) == 6 and len(clotho.captions) == 30
    assert clotho.caption_clip[:6] == [0, 0, 0, 0, 0, 1]
    caps = read_retrieval(audiocaps_csv, audiocaps_csv.parent / "test")
    assert caps.layout == "audiocaps" and len(caps.clips) == 5 and len(caps.captions) == 1 + 2 + 3 + 1 + 2
    assert caps.clips[0].name == "Yvid000xyz.wav"
    generic = write_csv(tmp_path / "pairs.csv", ["path", "caption"],
                        [[str(folders_dir / "rain/0.wav"), "rain"], [str(folders_dir / "speech/0.wav"), "talk"],
                         [str(folders_dir / "rain/0.wav"), "drizzle"]])
    data = read_retrieval(generic)
    assert data.layout == "csv" and data.caption_clip == [0, 1, 0]


# ------------------------------------------------------------------------ malformed metadata


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / src.name))


def test_missing_column_names_file_and_line(esc50_dir: Path, tmp_path: Path):
    root = _copy(esc50_dir, tmp_path)
    meta = root / "meta" / "esc50.csv"
    meta.write_text(meta.read_text().replace("category", "kind", 1))
    with pytest.raises(DatasetError) as info:
        read_classification(root)
    assert str(info.value).startswith(f"{meta}:1: no category column")
    assert "\n" not in str(info.value)


def test_unknown_file_names_file_and_line(esc50_dir: Path, tmp_path: Path):
    root = _copy(esc50_dir, tmp_path)
    (root / "audio" / "1-101-B-1.wav").unlink()
    meta = root / "meta" / "esc50.csv"
    line = next(n for n, text in enumerate(meta.read_text().splitlines(), 1) if text.startswith("1-101-B-1.wav"))
    with pytest.raises(DatasetError, match=rf"esc50.csv:{line}: no such file .*1-101-B-1.wav.*--skip-missing"):
        read_classification(root)
    data = read_classification(root, skip_missing=True)
    assert data.skipped == 1 and len(data.items) == 11


def test_empty_class_folder_and_empty_label(folders_dir: Path, tmp_path: Path):
    root = _copy(folders_dir, tmp_path)
    (root / "empty_class").mkdir()
    (root / "empty_class" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"empty_class: empty class"):
        read_classification(root)
    table = write_csv(tmp_path / "l.csv", ["path", "label"], [["rain/0.wav", "rain"], ["rain/1.wav", ""]])
    (tmp_path / "rain").mkdir()
    write_clip(tmp_path / "rain" / "0.wav", 0, 0)
    write_clip(tmp_path / "rain" / "1.wav", 0, 1)
    with pytest.raises(DatasetError, match=r"l.csv:3: empty 'label'"):
        read_classification(table)


@pytest.mark.parametrize(("header", "rows", "message"), [
    (["path", "label", "fold"], [["a.wav", "x", "one"]], r"x.csv:2: fold 'one' is not a whole number"),
    (["path", "label"], [["a.wav", "x", "extra"]], r"x.csv:2: 3 fields where the header has 2"),
    (["file_path", "label"], [["a.wav", "x"]], r"x.csv:1: no path column .*--path-column"),
    (["path", "label"], [], r"x.csv: no rows after the header"),
])
def test_malformed_csv(tmp_path: Path, header, rows, message):
    with pytest.raises(DatasetError, match=message):
        read_classification(write_csv(tmp_path / "x.csv", header, rows))


def test_detect_layout_errors(tmp_path: Path):
    with pytest.raises(DatasetError, match="no such file or directory"):
        detect_layout(tmp_path / "missing")
    (tmp_path / "only").mkdir()
    with pytest.raises(DatasetError, match="found 1 class folder"):
        read_classification(tmp_path)
