"""``clap embed --db`` and ``clap retrieve`` end to end with the tiny checkpoint (offline).

Every expected ranking is recomputed independently: the same model's embeddings from
``clap embed`` to a file / the library API, ranked by numpy cosine similarity.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import noise, speechlike, tone, write_soundfile

RATE = 48_000


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six short, clearly different clips."""
    folder = tmp_path_factory.mktemp("sounds")
    clips = {
        "a440.wav": tone(1.0, RATE, 440), "a880.wav": tone(1.0, RATE, 880), "low.wav": tone(1.5, RATE, 110),
        "noise.wav": noise(1.0, RATE, seed=3), "speech.wav": speechlike(1.2, RATE),
        "quiet.flac": tone(0.7, RATE, 3000, amplitude=0.05),
    }
    for name, samples in clips.items():
        write_soundfile(folder / name, samples, RATE)
    return folder


def embed_library(folder: Path, db: Path, model: Path) -> None:
    from typer.testing import CliRunner

    from clapcli.cli import app

    result = CliRunner().invoke(app, ["embed", str(folder), "--db", str(db), "--model", str(model), "--quiet"])
    assert result.exit_code == 0, result.stderr


@pytest.fixture(scope="module")
def shared_library(tmp_path_factory: pytest.TempPathFactory, sounds: Path, tiny_clap: Path) -> tuple[Path, Path]:
    """One library for the tests that only read it: (db, sounds dir)."""
    db = tmp_path_factory.mktemp("library") / "library.db"
    embed_library(sounds, db, tiny_clap)
    return db, sounds


@pytest.fixture()
def library(tmp_path: Path, sounds: Path, tiny_clap: Path) -> tuple[Path, Path]:
    """A private copy of the sounds in a fresh library, for tests that change files: (db, sounds dir)."""
    folder = tmp_path / "sounds"
    shutil.copytree(sounds, folder)
    db = tmp_path / "library.db"
    embed_library(folder, db, tiny_clap)
    return db, folder


def model_vectors(loaded_clap, files: list[Path]) -> np.ndarray:
    from clapcli.api import embed_audio

    return np.stack([e.vector for e in embed_audio(loaded_clap, [str(f) for f in files])])


def text_vector(loaded_clap, text: str) -> np.ndarray:
    from clapcli.api import embed_text

    return embed_text(loaded_clap, [text])[0].vector


def cosine_ranking(matrix: np.ndarray, query: np.ndarray) -> tuple[list[int], np.ndarray]:
    m = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    scores = m.astype(np.float64) @ (query / np.linalg.norm(query))
    order = np.argsort(-scores, kind="stable")
    return order.tolist(), scores[order]


def rows_of(db: Path) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute("SELECT path, hash, duration, model_id, created FROM items ORDER BY path").fetchall()
    finally:
        connection.close()


def test_embed_db_stores_every_file_once_with_metadata(shared_library, tiny_clap: Path) -> None:
    db, folder = shared_library
    rows = rows_of(db)
    assert [Path(r[0]).name for r in rows] == sorted(p.name for p in folder.iterdir())
    assert all(Path(r[0]).is_absolute() for r in rows)
    assert {r[3] for r in rows} == {str(tiny_clap.resolve())}
    durations = {Path(r[0]).name: r[2] for r in rows}
    assert durations["low.wav"] == pytest.approx(1.5, abs=1e-3)
    assert durations["quiet.flac"] == pytest.approx(0.7, abs=1e-3)


def test_incremental_skip_update_and_prune(library, tiny_clap: Path, cli) -> None:
    db, folder = library
    before = {r[0]: r for r in rows_of(db)}
    result = cli(["embed", folder, "--db", db, "--model", tiny_clap])
    assert result.exit_code == 0, result.stderr
    assert "0 added, 0 updated, 6 unchanged" in result.stderr
    assert {r[0]: r for r in rows_of(db)} == before  # untouched, created times included

    write_soundfile(folder / "a440.wav", tone(1.0, RATE, 660), RATE)  # changed content
    (folder / "noise.wav").unlink()
    write_soundfile(folder / "new.wav", tone(0.5, RATE, 1234), RATE)
    result = cli(["embed", folder, "--db", db, "--model", tiny_clap, "--prune"])
    assert result.exit_code == 0, result.stderr
    assert "1 added, 1 updated, 4 unchanged, 1 pruned; 6 files in the collection" in result.stderr
    after = {r[0]: r for r in rows_of(db)}
    a440 = str(folder / "a440.wav")
    names = ["a440.wav", "a880.wav", "low.wav", "new.wav", "quiet.flac", "speech.wav"]
    assert sorted(Path(p).name for p in after) == names
    assert after[a440][1] != before[a440][1] and after[a440][4] > before[a440][4]
    assert after[str(folder / "low.wav")] == before[str(folder / "low.wav")]


def test_prune_alone_needs_no_model(library, cli) -> None:
    db, folder = library
    (folder / "low.wav").unlink()
    result = cli(["embed", "--db", db, "--prune"])
    assert result.exit_code == 0, result.stderr
    assert "1 row of missing files pruned" in result.stderr
    assert len(rows_of(db)) == 5


def test_text_to_audio_matches_numpy_cosine(shared_library, loaded_clap, cli) -> None:
    db, folder = shared_library
    files = sorted(folder.iterdir())
    expected, scores = cosine_ranking(model_vectors(loaded_clap, files), text_vector(loaded_clap, "dog barking"))
    result = cli(["retrieve", "dog barking", "--db", db, "-k", "4", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [h["rank"] for h in hits] == [1, 2, 3, 4]
    assert [Path(h["path"]).name for h in hits] == [files[i].name for i in expected[:4]]
    np.testing.assert_allclose([h["score"] for h in hits], scores[:4], atol=1e-5)
    assert {h["query"] for h in hits} == {"dog barking"}


def test_audio_to_audio_reuses_or_embeds_the_query(shared_library, loaded_clap, cli, tmp_path: Path) -> None:
    db, folder = shared_library
    files = sorted(folder.iterdir())
    matrix = model_vectors(loaded_clap, files)
    outside = tmp_path / "query.wav"  # not in the library: embedded with the collection's model
    write_soundfile(outside, tone(1.0, RATE, 500), RATE)
    for query in (folder / "speech.wav", outside):
        expected, scores = cosine_ranking(matrix, model_vectors(loaded_clap, [query])[0])
        result = cli(["retrieve", query, "--db", db, "-k", "6", "--format", "jsonl", "--include-self"])
        assert result.exit_code == 0, result.stderr
        hits = [json.loads(line) for line in result.stdout.splitlines()]
        assert [Path(h["path"]).name for h in hits] == [files[i].name for i in expected]
        np.testing.assert_allclose([h["score"] for h in hits], scores, atol=1e-5)
    assert Path(hits[0]["path"]).name != "query.wav"


def test_audio_to_text_with_captions(tmp_path: Path, sounds: Path, loaded_clap, tiny_clap: Path, cli) -> None:
    captions = ["dog barking", "rain on roof", "piano music", "people talking", "car engine"]
    (tmp_path / "captions.txt").write_text("\n".join(captions) + "\n\n")
    from clapcli.api import embed_text

    caption_matrix = np.stack([e.vector for e in embed_text(loaded_clap, captions)])
    queries = [sounds / "speech.wav", sounds / "a440.wav"]
    result = cli(["retrieve", *queries, "--captions", tmp_path / "captions.txt", "-k", "3", "--model", tiny_clap,
                  "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "query,rank,score,text"
    for n, query in enumerate(queries):
        expected, scores = cosine_ranking(caption_matrix, model_vectors(loaded_clap, [query])[0])
        got = [line.split(",") for line in lines[1 + 3 * n : 4 + 3 * n]]
        assert [g[0] for g in got] == [str(query)] * 3
        assert [g[3] for g in got] == [captions[i] for i in expected[:3]]
        np.testing.assert_allclose([float(g[2]) for g in got], scores[:3], atol=1e-5)


def test_search_an_embed_output_file(tmp_path: Path, sounds: Path, loaded_clap, tiny_clap: Path, cli) -> None:
    out = tmp_path / "sounds.jsonl"
    assert cli(["embed", sounds, "--model", tiny_clap, "-o", out, "--quiet"]).exit_code == 0
    files = sorted(sounds.iterdir())
    expected, scores = cosine_ranking(model_vectors(loaded_clap, files), text_vector(loaded_clap, "rain"))
    result = cli(["retrieve", "rain", "--embeddings", out, "-k", "2", "--format", "csv", "-o", tmp_path / "hits.csv"])
    assert result.exit_code == 0, result.stderr
    lines = (tmp_path / "hits.csv").read_text().strip().splitlines()
    assert lines[0] == "query,rank,score,path"  # a query column for one query too (issue 14)
    assert [Path(line.split(",")[3]).name for line in lines[1:]] == [files[i].name for i in expected[:2]]


def test_approximate_equals_exact_on_a_small_collection(shared_library, cli) -> None:
    pytest.importorskip("faiss")
    db, _ = shared_library
    exact = json.loads(cli(["retrieve", "piano", "--db", db, "-k", "5", "-f", "json"]).stdout)
    result = cli(["retrieve", "piano", "--db", db, "-k", "5", "-f", "json", "--approximate"])
    assert result.exit_code == 0, result.stderr
    approx = json.loads(result.stdout)
    assert [h["path"] for h in approx] == [h["path"] for h in exact]
    np.testing.assert_allclose([h["score"] for h in approx], [h["score"] for h in exact], atol=1e-5)
    assert db.with_name("library.db.default.faiss").exists()


def test_model_mismatch_is_refused(shared_library, tmp_path: Path, tiny_clap_fused: Path, tiny_clap: Path, cli) -> None:
    db, folder = shared_library
    result = cli(["retrieve", "rain", "--db", db, "--model", tiny_clap_fused])
    assert result.exit_code == 2
    assert f"holds embeddings from model '{tiny_clap.resolve()}'" in result.stderr
    assert "pass --model" in result.stderr and result.stdout == ""
    result = cli(["embed", folder, "--db", db, "--model", tiny_clap_fused])
    assert result.exit_code == 2 and "was built with model" in result.stderr
    assert len(rows_of(db)) == 6


@pytest.mark.parametrize("args, code, message", [
    (["rain", "--db", "{tmp}/missing.db"], 2, "does not exist; create it with 'clap embed"),
    (["rain", "--db", "{db}", "--collection", "keys"], 2, "has no collection 'keys'"),
    (["missing.wav", "--db", "{db}"], 2, "looks like a file but does not exist"),
    (["rain", "--captions", "{tmp}/c.txt", "--embeddings", "{tmp}/e.jsonl"], 2, "two different targets"),
    (["rain", "--db", "{db}", "--nprobe", "4"], 2, "go with --approximate"),
    (["rain", "--embeddings", "{tmp}/none.parquet"], 2, "does not exist"),
    (["{sounds}/a440.wav", "--db", "{db}", "-o", "{sounds}/a880.wav"], 2, "unknown extension '.wav'"),
    (["{sounds}/a440.wav", "--db", "{db}", "-o", "{db}", "-f", "csv"], 1, "already exists"),
])
def test_error_paths(shared_library, tmp_path: Path, cli, args, code, message) -> None:
    db, folder = shared_library
    filled = [a.format(tmp=tmp_path, db=db, sounds=folder) for a in args]
    result = cli(["retrieve", *filled])
    assert result.exit_code == code, result.stderr
    assert message in result.stderr and result.stderr.count("error:") == 1


def test_broken_audio_query_is_partial_failure(shared_library, tmp_path: Path, cli) -> None:
    db, _ = shared_library
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF nonsense")
    result = cli(["retrieve", broken, "rain", "--db", db, "-k", "2", "-f", "jsonl"])
    assert result.exit_code == 3
    assert f"failed: {broken}" in result.stderr
    assert [json.loads(line)["query"] for line in result.stdout.splitlines()] == ["rain", "rain"]
    alone = cli(["retrieve", broken, "--db", db])
    assert alone.exit_code == 1 and str(broken) in alone.stderr


def test_embed_db_refuses_text_and_output(shared_library, cli, tmp_path: Path) -> None:
    db, folder = shared_library
    assert cli(["embed", "--text", "rain", "--db", db]).exit_code == 2
    result = cli(["embed", folder, "--db", db, "-o", tmp_path / "x.jsonl"])
    assert result.exit_code == 2 and "drop --output" in result.stderr


def test_default_library_under_clapcli_home(tmp_path: Path, sounds: Path, tiny_clap: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    result = cli(["embed", sounds / "a440.wav", "--collection", "tones", "--model", tiny_clap, "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "home" / "library.db").exists()
    result = cli(["retrieve", "beep", "--collection", "tones", "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().splitlines()[1].endswith("a440.wav")


def test_library_function_matches_the_cli(shared_library, loaded_clap, cli) -> None:
    from clapcli.core.retrieve import retrieve

    db, folder = shared_library
    results = retrieve(["rain", str(folder / "low.wav")], model=loaded_clap, db=db, k=3)
    assert [r.query.kind for r in results] == ["text", "media"]
    for result in results:
        printed = json.loads(cli(["retrieve", result.query.raw, "--db", db, "-k", "3", "-f", "json"]).stdout)
        assert [h.target for h in result.hits] == [h["path"] for h in printed]
        np.testing.assert_allclose([h.score for h in result.hits], [h["score"] for h in printed], atol=1e-6)
    captions = retrieve([str(folder / "low.wav")], model=loaded_clap, captions=["rain", "a low hum", "piano"], k=2)
    assert len(captions[0].hits) == 2 and {h.target for h in captions[0].hits} <= {"rain", "a low hum", "piano"}
