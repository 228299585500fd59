"""EmbeddingStore: round trips, incremental updates, pruning, model checks, error messages."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from clapcli.errors import ClapcliError, InputError, UsageError
from clapcli.store import ItemRow, content_hash, default_db_path, open_store


def rows(vectors: np.ndarray, prefix: str = "/s", hash_prefix: str = "h") -> list[ItemRow]:
    return [ItemRow(f"{prefix}/{i}.wav", f"{hash_prefix}{i}", v, duration=0.5 * i) for i, v in enumerate(vectors)]


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_round_trip_normalizes_and_keeps_metadata(db_path: Path, rng: np.random.Generator) -> None:
    vectors = rng.standard_normal((37, 16)).astype(np.float32) * 3
    with open_store(db_path) as store:
        collection = store.collection("drums", "laion/clap-htsat-unfused", 16)
        assert collection.upsert(rows(vectors)) == 37
        stored = collection.load_matrix()
        assert stored.vectors.shape == (37, 16) and stored.vectors.dtype == np.float32
        assert stored.vectors.flags.c_contiguous
        paths = collection.paths(stored.ids)
        order = np.argsort([int(Path(paths[i]).stem) for i in stored.ids])
        np.testing.assert_allclose(stored.vectors[order], unit(vectors), rtol=0, atol=1e-6)
        row = store.connection.execute(
            "SELECT hash, duration, model_id, created FROM items WHERE path = '/s/3.wav'").fetchone()
        assert row[:3] == ("h3", 1.5, "laion/clap-htsat-unfused") and row[3] > 1.7e9
        assert store.integrity_check() == "ok"
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with open_store(db_path, create=False) as store:  # reopened: same collection, same data
        again = store.collection("drums")
        assert (again.model_id, again.dim, again.count()) == ("laion/clap-htsat-unfused", 16, 37)


def test_upsert_replaces_by_path_and_bumps_version(db_path: Path, rng: np.random.Generator) -> None:
    with open_store(db_path) as store:
        collection = store.collection("default", "m", 4)
        collection.upsert(rows(rng.standard_normal((5, 4))))
        first = collection.version()
        changed = ItemRow("/s/2.wav", "new", np.array([0, 0, 0, 5.0]), 9.0)
        collection.upsert([changed])
        assert collection.count() == 5
        assert collection.version() == first + 1
        assert collection.hashes()["/s/2.wav"] == "new"
        np.testing.assert_array_equal(collection.vector_for("/s/2.wav"), [0, 0, 0, 1])
        assert not collection.needs_embedding("/s/2.wav", "new")
        assert collection.needs_embedding("/s/2.wav", "h2")
        assert collection.needs_embedding("/s/99.wav", "x")


def test_collections_are_separate_and_load_through_either_scan(db_path: Path, rng: np.random.Generator) -> None:
    big, small = rng.standard_normal((200, 4)), rng.standard_normal((10, 4))
    with open_store(db_path) as store:
        store.collection("big", "m", 4).upsert(rows(big, "/big"))
        store.collection("small", "m", 4).upsert(rows(small, "/small"))
        for name, expected in (("big", big), ("small", small)):  # full scan vs index scan
            collection = store.collection(name)
            stored = collection.load_matrix()
            paths = collection.paths(stored.ids)
            assert all(p.startswith(f"/{name}/") for p in paths.values())
            order = np.argsort([int(Path(paths[i]).stem) for i in stored.ids])
            np.testing.assert_allclose(stored.vectors[order], unit(expected), atol=1e-6)
        assert store.collection_names() == ["big", "small"]
        assert store.delete_collection("small") == 10
        assert store.collection_names() == ["big"]


def test_prune_drops_rows_of_missing_files(db_path: Path, tmp_path: Path, rng: np.random.Generator) -> None:
    files = [tmp_path / f"{i}.wav" for i in range(4)]
    for f in files:
        f.write_bytes(b"x")
    with open_store(db_path) as store:
        collection = store.collection("default", "m", 3)
        collection.upsert([ItemRow(str(f), "h", v) for f, v in zip(files, rng.standard_normal((4, 3)), strict=True)])
        files[1].unlink()
        files[3].unlink()
        assert sorted(collection.prune()) == [str(files[1]), str(files[3])]
        assert sorted(collection.hashes()) == [str(files[0]), str(files[2])]
        assert collection.prune() == []


def test_model_mismatch_is_refused_with_one_line(db_path: Path) -> None:
    with open_store(db_path) as store:
        store.collection("default", "laion/clap-htsat-unfused", 512)
        with pytest.raises(UsageError) as caught:
            store.collection("default", "microsoft/msclap", 1024)
        message = str(caught.value)
        assert "\n" not in message
        assert "'laion/clap-htsat-unfused' (512-d)" in message and "'microsoft/msclap' (1024-d)" in message
        assert "pass model laion/clap-htsat-unfused or use another collection" in message
        with pytest.raises(UsageError, match="512-d"):
            store.collection("default", "laion/clap-htsat-unfused", 256)
        collection = store.collection("default", "laion/clap-htsat-unfused", 512)
        with pytest.raises(InputError, match="has 3 values"):
            collection.upsert([ItemRow("/a.wav", "h", np.ones(3))])
        with pytest.raises(InputError, match="zero"):
            collection.upsert([ItemRow("/a.wav", "h", np.zeros(512))])
        assert collection.count() == 0


def test_missing_collection_and_bad_files(db_path: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist; create it with 'clap embed"):
        open_store(tmp_path / "nope.db", create=False)
    with open_store(db_path) as store:
        store.collection("drums", "m", 2)
        with pytest.raises(UsageError, match=r"no collection 'keys' \(collections: drums\)"):
            store.collection("keys", create=False)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ClapcliError, match="not a clapcli library"):
        open_store(junk)
    with pytest.raises(UsageError, match="is a directory"):
        open_store(tmp_path)


def test_content_hash_streams_blake2b(tmp_path: Path) -> None:
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)  # spans several read chunks
    path = tmp_path / "a.wav"
    path.write_bytes(data)
    assert content_hash(path) == hashlib.blake2b(data, digest_size=16).hexdigest()
    path.write_bytes(data[:-1] + b"\0")
    assert content_hash(path) != hashlib.blake2b(data, digest_size=16).hexdigest()
    with pytest.raises(InputError, match="cannot read"):
        content_hash(tmp_path / "missing.wav")


def test_default_db_path_follows_clapcli_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / "library.db"
    with open_store() as store:
        assert store.path == tmp_path / "home" / "library.db"
    monkeypatch.delenv("CLAPCLI_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))  # the user's own files stay out of it
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "clapcli" / "library.db"  # out of the cache


def test_page_size_fits_many_vectors_per_page(db_path: Path) -> None:
    with open_store(db_path) as store:
        assert store.connection.execute("PRAGMA page_size").fetchone()[0] == 32768
    from clapcli.store.schema import MIGRATIONS

    assert sqlite3.connect(db_path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_matrix_cache_is_used_only_when_it_matches(db_path: Path, rng: np.random.Generator, monkeypatch) -> None:
    from clapcli.store import collection as store_module

    monkeypatch.setattr(store_module, "CACHE_MIN_ROWS", 1)
    cache = db_path.with_name("library.db.my set.vectors".replace(" ", "_"))
    with open_store(db_path) as store:
        collection = store.collection("my set", "m", 6)
        collection.upsert(rows(rng.standard_normal((20, 6))))
        first = collection.load_matrix()
        assert cache.exists()

        def no_db(*args):
            raise AssertionError("should have come from the cache")

        monkeypatch.setattr(collection, "_load_from_db", no_db)
        cached = collection.load_matrix()
        np.testing.assert_array_equal(cached.ids, first.ids)
        np.testing.assert_array_equal(cached.vectors, first.vectors)
        monkeypatch.undo()
        monkeypatch.setattr(store_module, "CACHE_MIN_ROWS", 1)

        collection.upsert([ItemRow("/s/new.wav", "h", np.ones(6))])  # stale now: read from SQLite
        fresh = collection.load_matrix()
        assert len(fresh.ids) == 21 and fresh.version == first.version + 1
        cache.write_bytes(cache.read_bytes()[:-10])  # truncated: ignored, rewritten
        assert len(collection.load_matrix().ids) == 21
        assert len(collection.load_matrix(cache=False).ids) == 21
        assert store.delete_collection("my set") == 21
        assert not cache.exists()
