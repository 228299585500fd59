"""Exact search equals numpy brute-force cosine ranking; the faiss index and embed-file reading."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from clapcli.core import search
from clapcli.core.search import Hit, build_index, exact_top_k, hits_from, index_path, load_or_build_index
from clapcli.core.text import l2_normalize
from clapcli.errors import MissingDependencyError, UsageError
from clapcli.store import ItemRow, open_store
from clapcli.store.files import load_embedding_file


def brute_force(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine ranking written the obvious way, in float64."""
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores = q.astype(np.float64) @ v.T.astype(np.float64)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


@pytest.mark.parametrize("k", [1, 10, 57])
def test_exact_top_k_matches_brute_force_across_chunks(monkeypatch, rng, k: int) -> None:
    monkeypatch.setattr(search, "SCORES_IN_FLIGHT", 1)  # forces 4096-row chunks: 3 of them
    vectors = l2_normalize(rng.standard_normal((10_000, 24)))
    queries = l2_normalize(rng.standard_normal((5, 24)))
    scores, rows = exact_top_k(vectors, queries, k)
    want_scores, want_rows = brute_force(vectors, queries, k)
    assert rows.shape == (5, k)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_exact_top_k_with_k_beyond_rows_and_empty(rng) -> None:
    vectors = l2_normalize(rng.standard_normal((3, 4)))
    scores, rows = exact_top_k(vectors, vectors[1], 10)
    assert rows.tolist() == [[1, *np.argsort(-(vectors @ vectors[1]))[1:].tolist()]]
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-6)
    scores, rows = exact_top_k(np.zeros((0, 4), np.float32), vectors[:1], 10)
    assert rows.shape == (1, 0)


def test_store_search_equals_numpy_cosine_ranking(db_path: Path, rng) -> None:
    raw = rng.standard_normal((300, 32)).astype(np.float32) * rng.uniform(0.1, 5, (300, 1)).astype(np.float32)
    query = rng.standard_normal(32).astype(np.float32)
    with open_store(db_path) as store:
        collection = store.collection("default", "m", 32)
        collection.upsert([ItemRow(f"/x/{i}.wav", str(i), v) for i, v in enumerate(raw)])
        stored = collection.load_matrix()
        scores, rows = exact_top_k(stored.vectors, l2_normalize(query), 10)
        hits = hits_from(scores[0], rows[0], ids=stored.ids, paths=collection.paths(stored.ids[rows[0]]))
    want_scores, want_rows = brute_force(raw, query[None, :], 10)
    assert [h.target for h in hits] == [f"/x/{i}.wav" for i in want_rows[0]]
    assert [h.rank for h in hits] == list(range(1, 11))
    np.testing.assert_allclose([h.score for h in hits], want_scores[0], atol=1e-5)


def test_flat_index_is_exact_and_ivf_reaches_high_recall(rng) -> None:
    centres = l2_normalize(rng.standard_normal((40, 16)))
    vectors = l2_normalize(centres[rng.integers(0, 40, 4000)] + 0.05 * rng.standard_normal((4000, 16)))
    ids = np.arange(4000, dtype=np.int64) + 100
    queries = l2_normalize(centres[:20] + 0.05 * rng.standard_normal((20, 16)))
    _, truth = exact_top_k(vectors, queries, 10)
    flat = build_index(vectors, ids)
    _, found = search.search_index(flat, queries, 10)
    np.testing.assert_array_equal(found, truth + 100)
    ivf = build_index(vectors, ids, nlist=16)
    _, found = search.search_index(ivf, queries, 10, nprobe=4)
    recall = np.mean([len(set(f) & set(t + 100)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95


def test_index_is_persisted_beside_db_and_rebuilt_when_stale(db_path: Path, rng) -> None:
    with open_store(db_path) as store:
        collection = store.collection("my drums", "m", 8)
        collection.upsert([ItemRow(f"/d/{i}.wav", "h", v) for i, v in enumerate(rng.standard_normal((50, 8)))])
        index = load_or_build_index(collection)
        path = index_path(db_path, "my drums")
        assert path == db_path.with_name("library.db.my_drums.faiss") and path.exists()
        note = json.loads(path.with_name(path.name + ".json").read_text())
        assert note["version"] == collection.version() and index.ntotal == 50
        assert load_or_build_index(collection).ntotal == 50  # loaded, not rebuilt
        collection.upsert([ItemRow("/d/new.wav", "h", np.ones(8))])
        rebuilt = load_or_build_index(collection)
        assert rebuilt.ntotal == 51
        new_id = collection.load_matrix().ids.max()
        _, found = search.search_index(rebuilt, l2_normalize(np.ones(8)), 1)
        assert found[0, 0] == new_id
        path.write_bytes(b"truncated")  # a damaged index file is rebuilt, not trusted
        assert load_or_build_index(collection).ntotal == 51


def test_missing_faiss_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'clapcli\[faiss\]'"):
        search.import_faiss()


def test_empty_collection_cannot_be_indexed(db_path: Path) -> None:
    with open_store(db_path) as store:
        with pytest.raises(UsageError, match="is empty"):
            load_or_build_index(store.collection("default", "m", 4))


# ---------------------------------------------------------------- embed output files


def _write_text_formats(tmp_path: Path, vectors: np.ndarray) -> list[Path]:
    from clapcli.io.writers import embedding_writer
    from clapcli.results import Embedding

    written = []
    for fmt in ("jsonl", "json", "csv"):
        path = tmp_path / f"e.{fmt}"
        writer = embedding_writer(fmt, path, overwrite=False)
        for i, v in enumerate(vectors):
            writer.write(Embedding(f"/a/{i}.wav", "audio", v, "laion/x", 1.0))
        writer.close()
        written.append(path)
    return written


def _write_binary_formats(tmp_path: Path, vectors: np.ndarray) -> list[Path]:
    """The layouts ``clap embed`` writes: parquet with a fixed-size list column, npy + rows CSV,
    safetensors with the rows in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors.numpy import save_file

    n, dim = vectors.shape
    meta = [{"path": f"/a/{i}.wav", "text": None, "kind": "audio", "duration": 1.0, "model": "laion/x"}
            for i in range(n)]
    pq.write_table(pa.table({
        "path": [m["path"] for m in meta], "text": pa.array([None] * n, pa.string()),
        "kind": ["audio"] * n, "duration": [1.0] * n, "model": ["laion/x"] * n,
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
    }), tmp_path / "e.parquet")
    np.save(tmp_path / "e.npy", vectors)
    lines = ["row,path,text,kind,duration,model"] + [f"{i},/a/{i}.wav,,audio,1.0,laion/x" for i in range(n)]
    (tmp_path / "e.npy.rows.csv").write_text("\n".join(lines) + "\n")
    save_file({"embeddings": vectors}, str(tmp_path / "e.safetensors"), metadata={"rows": json.dumps(meta)})
    return [tmp_path / "e.parquet", tmp_path / "e.npy", tmp_path / "e.safetensors"]


def test_every_embed_output_format_reads_back(tmp_path: Path, rng) -> None:
    vectors = rng.standard_normal((6, 5)).astype(np.float32)
    for path in _write_text_formats(tmp_path, vectors) + _write_binary_formats(tmp_path, vectors):
        table = load_embedding_file(path)
        assert table.labels == [f"/a/{i}.wav" for i in range(6)], path
        assert table.models == {"laion/x"}, path
        np.testing.assert_allclose(table.vectors, vectors, atol=1e-6, err_msg=str(path))


def test_embedding_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_embedding_file(tmp_path / "none.parquet")
    (tmp_path / "e.txt").write_text("x")
    with pytest.raises(UsageError, match="unknown format '.txt'"):
        load_embedding_file(tmp_path / "e.txt")
    (tmp_path / "bad.jsonl").write_text('{"path": "a"}\n')
    with pytest.raises(Exception, match="cannot read it as jsonl"):
        load_embedding_file(tmp_path / "bad.jsonl")


def test_hit_is_a_plain_record() -> None:
    assert Hit(1, 0.5, "/a.wav") == Hit(rank=1, score=0.5, target="/a.wav", id=None)
