"""A result is always reported against its own input: with one unreadable file at every position of a
batch, each consumer of the streaming engine (embed, eval, retrieve, detect, segments) gives every other
file its own numbers. The band model makes each file's embedding tell which file it came from."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent / "detect"))

from fake_model import RATE, FakeBandModel, band_histogram, tone_track  # noqa: E402

from clapcli.results import FailedInput  # noqa: E402

TRACKS = {  # four files whose band histograms differ
    "low.wav": [("low tone", 0.0, 2.0)],
    "mid.wav": [("mid tone", 0.0, 1.5)],
    "high.wav": [("high tone", 0.5, 2.0)],
    "mix.wav": [("low tone", 0.0, 1.0), ("high tone", 1.0, 2.0)],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pairing")
    out = {}
    for name, segments in TRACKS.items():
        out[name] = directory / name
        sf.write(out[name], tone_track(segments, 2.0), RATE, subtype="FLOAT")
    out["empty.wav"] = directory / "empty.wav"
    out["empty.wav"].write_bytes(b"")
    return out


def expected(path: Path) -> np.ndarray:
    samples, _ = sf.read(path, dtype="float32")
    return band_histogram(samples)


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def with_bad_at(files: dict[str, Path], position: int) -> list[Path]:
    good = [files[name] for name in TRACKS]
    return good[:position] + [files["empty.wav"]] + good[position:]


POSITIONS = range(len(TRACKS) + 1)


@pytest.mark.parametrize("batch_size", [2, 3, 8])
@pytest.mark.parametrize("position", POSITIONS)
def test_encode_stream_keeps_input_order_with_a_failure_anywhere(files, position: int, batch_size: int) -> None:
    from clapcli.core.pipeline import encode_pairs, encode_stream

    inputs = with_bad_at(files, position)
    results = list(encode_stream(inputs, FakeBandModel(), batch_size=batch_size, workers=2))
    assert [r.source for r in results] == [str(p) for p in inputs]
    for path, result in zip(inputs, results, strict=True):
        if path.name == "empty.wav":
            assert type(result) is FailedInput
        else:
            np.testing.assert_allclose(result.vector, expected(path), atol=1e-6)
    pairs = list(encode_pairs(inputs, FakeBandModel(), batch_size=batch_size, workers=2))
    assert [source for source, _ in pairs] == inputs
    assert all(source is original for (source, _), original in zip(pairs, inputs, strict=True))


@pytest.mark.parametrize("position", POSITIONS)
def test_eval_embeddings_belong_to_their_rows(files, position: int) -> None:
    from clapcli.core.eval.embedding import embed_paths

    inputs = with_bad_at(files, position)
    embedded = embed_paths(FakeBandModel(), inputs, batch_size=3, workers=2)
    assert [f.source for f in embedded.failed] == [str(files["empty.wav"])]
    assert sorted(embedded.ok.tolist()) == [i for i in range(len(inputs)) if i != position]
    for row, index in zip(embedded.matrix, embedded.ok, strict=True):
        np.testing.assert_allclose(row, unit(expected(inputs[index])), atol=1e-6)


@pytest.mark.parametrize("position", POSITIONS)
def test_retrieve_queries_get_their_own_vectors(files, position: int) -> None:
    from clapcli.core.retrieve import LazyModel, embed_queries, parse_queries

    inputs = with_bad_at(files, position)
    queries = parse_queries([str(p) for p in inputs])
    embedded, failed = embed_queries(queries, LazyModel.of(FakeBandModel()), batch_size=3, workers=2)
    assert [f.source for f in failed] == [str(files["empty.wav"])]
    assert [q.raw for q, _ in embedded] == [str(p) for p in inputs if p.name != "empty.wav"]
    for query, vector in embedded:
        np.testing.assert_allclose(vector, unit(expected(Path(query.raw))), atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 3, 8])
@pytest.mark.parametrize("position", POSITIONS)
def test_detect_scores_belong_to_their_files(files, position: int, batch_size: int) -> None:
    from clapcli.core.windows import WindowSpec, window_embeddings

    inputs = with_bad_at(files, position)
    model = FakeBandModel()
    spec = WindowSpec(0.5, 0.5)
    results = list(window_embeddings(model, inputs, spec, batch_size=batch_size, workers=2))
    assert [r.source for r in results] == [str(p) for p in inputs]
    for path, result in zip(inputs, results, strict=True):
        if path.name == "empty.wav":
            assert isinstance(result, FailedInput)
            continue
        samples, _ = sf.read(path, dtype="float32")
        alone = [unit(band_histogram(samples[int(s * RATE):int(e * RATE)])) for s, e in
                 zip(result.starts, result.ends, strict=True)]
        assert len(alone) == 4
        np.testing.assert_allclose(result.rows, np.stack(alone), atol=1e-6)


def test_cli_detect_and_segments_go_on_after_a_bad_file(files, tmp_path: Path, cli, monkeypatch) -> None:
    model = FakeBandModel()
    monkeypatch.setattr("clapcli.console.common.ModelOptions.load", lambda self, *_args: model)
    inputs = with_bad_at(files, 1)
    out = tmp_path / "events.csv"
    result = cli(["detect", *inputs, "-l", "low tone,mid tone,high tone,silence", "--window", "0.5",
                  "-o", out, "-q"])
    assert result.exit_code == 3, result.output
    sources = {line.split(",")[0] for line in out.read_text().splitlines()[1:]}
    assert sources == {str(p) for p in inputs if p.name != "empty.wav"}

    db = tmp_path / "lib.db"
    result = cli(["embed", *inputs, "--segments", "0.5", "--db", db, "-q"])
    assert result.exit_code == 3, result.output
    import sqlite3

    with sqlite3.connect(db) as connection:  # every good file's windows are stored, under its own name
        stored = {row[0] for row in connection.execute("SELECT path FROM items")}
    assert {name.split("#")[0] for name in stored} == {str(p) for p in inputs if p.name != "empty.wav"}


def test_cli_retrieve_prints_hits_under_their_own_query(files, tmp_path: Path, cli, monkeypatch) -> None:
    model = FakeBandModel()
    monkeypatch.setattr("clapcli.console.common.ModelOptions.load", lambda self, *_args: model)
    monkeypatch.setattr("clapcli.core.retrieve.LazyModel.get", lambda self: model)
    library = tmp_path / "lib.jsonl"
    assert cli(["embed", *[files[n] for n in TRACKS], "-o", library, "-q"]).exit_code == 0
    queries = [files["low.wav"], files["empty.wav"], files["high.wav"]]
    result = cli(["retrieve", *queries, "--embeddings", library, "-k", "1", "-f", "jsonl", "--model", "fake"])
    assert result.exit_code == 3, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    hits = [row for row in rows if "path" in row]
    assert {row["query"] for row in hits} == {str(files["low.wav"]), str(files["high.wav"])}
    for row in hits:  # each score is the query's own cosine with the hit, computed by hand
        cosine = float(unit(expected(Path(row["query"]))) @ unit(expected(Path(row["path"]))))
        assert row["score"] == pytest.approx(cosine, abs=1e-5)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet", "csv", "npy"])
def test_retrieve_reads_embed_output_that_names_a_failure(files, tmp_path: Path, cli, monkeypatch, fmt) -> None:
    """``clap embed`` writes a row for each failed input in JSON/JSONL; ``retrieve --embeddings`` skips it."""
    model = FakeBandModel()
    monkeypatch.setattr("clapcli.console.common.ModelOptions.load", lambda self, *_args: model)
    monkeypatch.setattr("clapcli.core.retrieve.LazyModel.get", lambda self: model)
    library = tmp_path / f"lib.{fmt}"
    assert cli(["embed", *with_bad_at(files, 2), "-o", library, "-q"]).exit_code == 3
    result = cli(["retrieve", files["low.wav"], "--embeddings", library, "-k", "4", "-f", "jsonl", "--model", "f"])
    assert result.exit_code == 0, result.output
    hits = [json.loads(line)["path"] for line in result.stdout.splitlines()]
    assert sorted(Path(h).name for h in hits) == ["high.wav", "mid.wav", "mix.wav"]  # itself left out


def test_ragged_embedding_files_are_refused_naming_the_row(tmp_path: Path, cli) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ragged = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"path": ["a.wav", "b.wav"], "embedding": [[1.0, 0.0, 0.0, 0.0], [1.0, 0.0]],
                             "model": ["m", "m"]}), ragged)
    lines = tmp_path / "ragged.jsonl"
    lines.write_text('{"path": "a.wav", "embedding": [1, 0]}\n{"path": "b.wav", "embedding": [1, 0, 0]}\n')
    for path in (ragged, lines):
        result = cli(["retrieve", "dog", "--embeddings", path])
        assert result.exit_code == 1
        assert "different lengths" in result.stderr and "b.wav" in result.stderr
