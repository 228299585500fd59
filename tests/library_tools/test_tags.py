"""Tags in the library: the schema migration from a library of the current release (schema 2), ``clap tag``
(scores equal clap classify's, resumable), ``clap library info`` tag counts."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from clapcli.errors import ClapcliError
from clapcli.store import ItemRow, open_store, schema

LABELS = ["dog barking", "rain", "a piano"]


def _release_library(db: Path, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """A library as the release before tags writes it: schema 2, one collection, three rows."""
    vectors = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        with open_store(db) as store:
            store.collection("default", "m", 4).upsert(
                [ItemRow(f"/s/{i}.wav", f"h{i}", v, 1.0 + i) for i, v in enumerate(vectors)])
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 2
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _tables(db: Path) -> set[str]:
    return {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_release_library_migrates_with_its_rows_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "lib.db"
    expected = _release_library(db, monkeypatch)
    with open_store(db, readonly=True) as store:  # a reader reads it as it is and changes nothing
        assert store.collection("default", create=False).count() == 3
    assert "tags" not in _tables(db)
    with open_store(db) as store:
        collection = store.collection("default", create=False)
        np.testing.assert_array_equal(collection.load_matrix(cache=False).vectors, expected)
    assert {"tags", "tag_sets"} <= _tables(db)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 3


def test_a_migration_failing_half_way_keeps_everything_and_the_next_run_completes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "lib.db"
    expected = _release_library(db, monkeypatch)
    real = schema.MIGRATIONS[2]

    def half(connection: sqlite3.Connection) -> None:
        real(connection)  # every table and trigger made, then the step fails before the commit
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:2], half])
        with pytest.raises(ClapcliError, match="cannot bring it up to date"):
            open_store(db)
    assert "tags" not in _tables(db) and sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 2
    with open_store(db) as store:  # resumed: the next writer applies the step whole
        np.testing.assert_array_equal(store.collection("default", create=False).load_matrix(cache=False).vectors,
                                      expected)
    assert "tags" in _tables(db)


def test_tag_scores_equal_classify_and_a_rerun_resumes(cli, tiny_clap, audio_files, tmp_path) -> None:
    db = tmp_path / "lib.db"
    files = [audio_files[k] for k in sorted(audio_files)][:4]
    assert cli(["embed", *files, "--db", db, "--model", tiny_clap, "-q"]).exit_code == 0
    labels = tmp_path / "tags.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    result = cli(["tag", "--db", db, "--labels-file", labels])
    assert result.exit_code == 0, result.stderr
    assert "4 tagged, 0 already tagged, 3 labels" in result.stderr
    classified = cli(["classify", *files, "--model", tiny_clap, "--labels", ",".join(LABELS), "--format", "json"])
    expected = {(Path(r["path"]).resolve(), p["label"]): p["score"] for r in json.loads(classified.stdout)
                for p in r["predictions"]}
    with open_store(db, readonly=True) as store:
        stored = {(Path(p).resolve(), label): score for p, label, score in store.connection.execute(
            "SELECT i.path, t.label, t.score FROM tags t JOIN items i ON i.id = t.item_id")}
    assert stored.keys() == expected.keys()
    for key, score in expected.items():
        assert stored[key] == pytest.approx(score, abs=1e-5)
    again = cli(["tag", "--db", db, "--labels-file", labels])
    assert "0 tagged, 4 already tagged" in again.stderr
    # a file embedded again loses its scores (its vector changed); the next run scores it alone
    with open_store(db) as store:
        collection = store.collection("default", create=False)
        path = sorted(collection.hashes())[0]
        collection.upsert([ItemRow(path, "changed", collection.vector_for(path)[::-1].copy(), 1.0)])
    assert "1 tagged, 3 already tagged" in cli(["tag", "--db", db, "--labels-file", labels]).stderr
    other = cli(["tag", "--db", db, "--labels", "speech,music"])
    assert "dropped from 4 items" in other.stderr and "4 tagged" in other.stderr


def test_an_interrupted_tag_run_keeps_its_batches(tiny_clap, audio_files, tmp_path, cli) -> None:
    from clapcli.core.tagging import tag_collection
    from clapcli.models.loading import load_embedding_model
    from clapcli.store.tags import tagged_count

    db = tmp_path / "lib.db"
    files = [audio_files[k] for k in sorted(audio_files)][:5]
    cli(["embed", *files, "--db", db, "--model", tiny_clap, "-q"])
    model = load_embedding_model(str(tiny_clap), device="cpu")
    seen = []

    def stop_after_two(n: float) -> None:
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with open_store(db) as store:
        collection = store.collection("default", create=False)
        with pytest.raises(KeyboardInterrupt):
            tag_collection(collection, model, LABELS, on_progress=stop_after_two, batch=2)
        assert tagged_count(collection) == 4  # two batches of two committed
        summary = tag_collection(collection, model, LABELS, batch=2)
        assert (summary.tagged, summary.already) == (1, 4)


def test_library_info_shows_tag_counts(cli, tmp_path) -> None:
    db = tmp_path / "lib.db"
    with open_store(db) as store:
        collection = store.collection("default", "m", 2)
        collection.upsert([ItemRow(f"/s/{i}.wav", "h", np.array([1.0, float(i)]), 1.0) for i in range(3)])
        from clapcli.store.tags import TagSet, start_tag_set, write_scores

        start_tag_set(collection, TagSet(["rain", "dog"], "{}", "m"))
        ids = [r[0] for r in store.connection.execute("SELECT id FROM items ORDER BY id")]
        write_scores(collection, ids, ["rain", "dog"], np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]))
    info = json.loads(cli(["library", "info", "--db", db, "--format", "json"]).stdout)[0]
    assert info["tagged"] == 3 and info["tags"] == "rain 2, dog 1"
    with open_store(db) as store:  # a deleted item takes its scores with it (a trigger)
        store.collection("default", create=False).delete_paths(["/s/0.wav"])
        assert store.connection.execute("SELECT count(*) FROM tags").fetchone()[0] == 4
    info = json.loads(cli(["library", "info", "--db", db, "--format", "json"]).stdout)[0]
    assert info["tagged"] == 2 and info["tags"] == "dog 1, rain 1"
    with open_store(db) as store:
        store.delete_collection("default")
        assert store.connection.execute("SELECT count(*) FROM tags").fetchone()[0] == 0
        assert store.connection.execute("SELECT count(*) FROM tag_sets").fetchone()[0] == 0
