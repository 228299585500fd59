"""Metadata that would be misread is refused (or its repeats named) before any model is loaded:
quoted line breaks, duplicate rows, over-long fields, each naming file:line."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from eval_data import write_clip

from clapcli.core.eval.captions import read_retrieval
from clapcli.core.eval.datasets import DatasetError, read_classification
from clapcli.errors import ClapcliWarning


@pytest.fixture()
def clips(tmp_path: Path) -> Path:
    for index, name in enumerate(("a.wav", "b.wav", "c.wav")):
        write_clip(tmp_path / name, index, index)
    return tmp_path


def test_quoted_line_break_in_a_label_is_refused_naming_file_and_line(clips: Path):
    meta = clips / "labels.csv"
    meta.write_text('path,label\na.wav,dog\nb.wav,"chirping\nbirds"\nc.wav,rain\n')
    with pytest.raises(DatasetError) as caught:
        read_classification(meta)
    message = str(caught.value)
    assert message.startswith(f"{meta}:3: ") and "line break" in message and "'label'" in message
    assert "\n" not in message


def test_quoted_line_break_in_a_caption_is_refused(clips: Path):
    meta = clips / "captions.csv"
    meta.write_text('path,caption\na.wav,a dog\nb.wav,birds\nc.wav,"rain\r\non a roof"\n')
    with pytest.raises(DatasetError, match=rf"^{meta}:4: .*line break.*'caption'"):
        read_retrieval(meta)


def test_line_numbers_stay_right_after_a_quoted_comma(clips: Path):
    meta = clips / "labels.csv"
    meta.write_text('path,label\na.wav,"dog, barking"\nb.wav,\n')
    with pytest.raises(DatasetError, match=rf"^{meta}:3: empty 'label'"):
        read_classification(meta)


def test_a_field_over_128_kb_names_file_and_line(clips: Path):
    meta = clips / "labels.csv"
    meta.write_text("path,label\na.wav,dog\nb.wav,\"" + "x" * 200_000 + "\"\n")
    with pytest.raises(DatasetError) as caught:
        read_classification(meta)
    message = str(caught.value)
    assert message.startswith(f"{meta}:3: ") and "131072" not in message and "128 KB" in message


def test_duplicate_rows_are_left_out_with_one_warning(clips: Path):
    meta = clips / "labels.csv"
    meta.write_text("path,label\na.wav,dog\nb.wav,bird\na.wav,dog\nc.wav,rain\na.wav,dog\nb.wav,bird\n")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        data = read_classification(meta)
    assert [item.path.name for item in data.items] == ["a.wav", "b.wav", "c.wav"]
    lines = [str(w.message) for w in seen if issubclass(w.category, ClapcliWarning)]
    assert lines == [f"3 duplicate metadata rows left out (first: {meta}:4 repeats line 2)"]


def test_one_file_with_two_labels_is_refused(clips: Path):
    meta = clips / "labels.csv"
    meta.write_text("path,label\na.wav,dog\nb.wav,bird\na.wav,cat\n")
    with pytest.raises(DatasetError, match=rf"^{meta}:4: a.wav is 'cat' here but 'dog' on line 2"):
        read_classification(meta)


def test_duplicate_caption_rows_are_left_out_with_one_warning(clips: Path):
    meta = clips / "captions.csv"
    meta.write_text("path,caption\na.wav,a dog\nb.wav,birds\na.wav,a dog\na.wav,a dog barks\n")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        data = read_retrieval(meta)
    assert data.captions == ["a dog", "birds", "a dog barks"] and data.caption_clip == [0, 1, 0]
    lines = [str(w.message) for w in seen if issubclass(w.category, ClapcliWarning)]
    assert lines == [f"1 duplicate caption left out (first: {meta}:4 repeats line 2)"]


def test_cli_says_duplicates_in_one_line(cli, clips: Path):
    meta = clips / "labels.csv"
    meta.write_text("path,label,fold\na.wav,dog,1\nb.wav,bird,1\na.wav,dog,1\n")
    result = cli(["eval", "classify", meta, "-f", "csv", "--fold", "3"])  # stops before any model is loaded
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"warning: 1 duplicate metadata row left out (first: {meta}:4 repeats "
                                          "line 2)", f"error: {meta}: no fold 3 (folds: 1)"]
