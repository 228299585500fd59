"""Readers expand inputs without raising; writers produce every format and never clobber."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from clapcli.errors import OutputError, UsageError
from clapcli.io.readers import expand_inputs, read_text_file
from clapcli.io.writers import embedding_writer, format_from_path, record_writer
from clapcli.media.kinds import AUDIO_EXTENSIONS
from clapcli.results import Embedding
from clapcli.results import FailedInput as Failure


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/1.wav", "a/b/2.flac", "a/b/notes.txt", "a/3.MP3"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    return tmp_path


def test_directories_recurse_sorted_by_extension(tmp_path):
    root = _tree(tmp_path)
    found = list(expand_inputs([str(root / "a")], AUDIO_EXTENSIONS))
    assert found == [root / "a/1.wav", root / "a/3.MP3", root / "a/b/2.flac"]


def test_globs_stdin_and_failures_do_not_raise(tmp_path):
    root = _tree(tmp_path)
    stdin = io.StringIO(f"{root / 'a/1.wav'}\n\n{root / 'nope.wav'}\n")
    found = list(expand_inputs([str(root / "a/*.wav"), "-", str(root / "empty"), str(root / "*.ogg")],
                               AUDIO_EXTENSIONS, stdin=stdin))
    assert found[0] == root / "a/1.wav" and found[1] == root / "a/1.wav"
    failures = [f for f in found if isinstance(f, Failure)]
    assert [f.reason for f in failures] == [
        "no such file or directory", "directory contains no supported files", "no file matches this pattern"]


def test_read_text_file(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("dog\n\n  cat  \n", encoding="utf-8")
    assert read_text_file(path, "labels") == ["dog", "cat"]
    with pytest.raises(UsageError, match="labels file"):
        read_text_file(tmp_path / "missing.txt", "labels")


ROWS = [
    Embedding("a.wav", "audio", np.array([0.6, 0.8], np.float32), "m", 1.5),
    Embedding("hello", "text", np.array([1.0, 0.0], np.float32), "m"),
]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "npy", "parquet", "safetensors"])
def test_embedding_formats_round_trip(tmp_path, fmt):
    out = tmp_path / f"e.{fmt}"
    writer = embedding_writer(fmt, out, overwrite=False)
    for row in ROWS:
        writer.write(row)
    writer.close()
    matrix, sources = _read_embeddings(out, fmt)
    np.testing.assert_allclose(matrix, [[0.6, 0.8], [1.0, 0.0]], atol=1e-7)
    assert sources == ["a.wav", "hello"]
    assert not list(tmp_path.glob(".*.part"))  # temp files renamed away


def _read_embeddings(out: Path, fmt: str) -> tuple[np.ndarray, list[str]]:
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    elif fmt == "json":
        rows = json.loads(out.read_text())
    elif fmt == "csv":
        import csv

        table = list(csv.DictReader(out.open()))
        return (np.array([[float(r["e0"]), float(r["e1"])] for r in table]),
                [r.get("path") or r.get("text") for r in table])
    elif fmt == "npy":
        import csv

        table = list(csv.DictReader((out.parent / (out.name + ".rows.csv")).open()))
        return np.load(out), [r["path"] or r["text"] for r in table]
    elif fmt == "parquet":
        table = pq.read_table(out).to_pylist()
        return np.array([r["embedding"] for r in table]), [r["path"] or r["text"] for r in table]
    else:
        from safetensors import safe_open

        with safe_open(str(out), "np") as handle:
            meta = json.loads(handle.metadata()["rows"])
            return handle.get_tensor("embeddings"), [m.get("path") or m.get("text") for m in meta]
    return np.array([r["embedding"] for r in rows]), [r.get("path") or r.get("text") for r in rows]


def test_existing_output_needs_overwrite(tmp_path):
    out = tmp_path / "e.jsonl"
    out.write_text("keep me")
    with pytest.raises(OutputError, match="--overwrite"):
        embedding_writer("jsonl", out, overwrite=False)
    assert out.read_text() == "keep me"
    writer = embedding_writer("jsonl", out, overwrite=True)
    writer.write(ROWS[0])
    writer.close()
    assert json.loads(out.read_text())["path"] == "a.wav"


def test_binary_format_needs_a_file_and_known_extension(tmp_path):
    with pytest.raises(UsageError, match="binary"):
        embedding_writer("npy", None, overwrite=False)
    with pytest.raises(UsageError, match="unknown extension"):
        format_from_path(tmp_path / "x.xlsx", None, ("csv", "json"), "csv")
    with pytest.raises(OutputError, match="does not exist"):
        embedding_writer("jsonl", tmp_path / "no" / "x.jsonl", overwrite=False)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "table"])
def test_record_writer_formats(fmt):
    stream = io.StringIO()
    writer = record_writer(fmt, None, False, ["path", "score"], stream=stream)
    writer.write({"path": "a.wav", "score": 0.5})
    writer.close()
    text = stream.getvalue()
    assert "a.wav" in text and ("0.5" in text)
    if fmt == "json":
        assert json.loads(text) == [{"path": "a.wav", "score": 0.5}]
    if fmt == "csv":
        assert text.splitlines() == ["path,score", "a.wav,0.5"]
