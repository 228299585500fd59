"""``clap map``: PCA equals scikit-learn's, coordinates repeat with a seed, colours by tag or folder, a PNG."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from clapcli.core.mapping import project
from clapcli.store import ItemRow, open_store
from clapcli.store.tags import TagSet, start_tag_set, write_scores

sys.path.insert(0, str(Path(__file__).parent))

from map_model import HashTextModel  # noqa: E402

FOLDERS = ["drums", "pads", "fx"]


@pytest.fixture(autouse=True)
def text_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster labels' model: a deterministic one (test_map_clusters.py tests the labels themselves)."""
    monkeypatch.setattr("clapcli.console.common.ModelOptions.load", lambda self, *_: HashTextModel(self.model, 16))


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    db = tmp_path / "lib.db"
    with open_store(db) as store:
        store.collection("default", "m", 16).upsert(
            [ItemRow(f"/lib/{FOLDERS[i % 3]}/{i}.wav", "h", rng.standard_normal(16) + 2 * (i % 3), 1.0)
             for i in range(45)])
    return db


def _points(result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_pca_equals_scikit_learn() -> None:
    from sklearn.decomposition import PCA

    vectors = np.random.default_rng(1).standard_normal((50, 12)).astype(np.float32)
    ours = project(vectors, "pca")
    theirs = PCA(2).fit_transform(vectors.astype(np.float64))
    signs = np.sign((ours * theirs).sum(axis=0))  # each axis's sign is a convention
    np.testing.assert_allclose(ours, theirs * signs, atol=1e-5)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_coordinates_repeat_with_a_seed(cli, library, method) -> None:
    first = _points(cli(["map", "--db", library, "--method", method, "--seed", "3", "--format", "csv"]))
    second = _points(cli(["map", "--db", library, "--method", method, "--seed", "3", "--format", "csv"]))
    assert first == second and len(first) == 45
    assert {p["folder"] for p in first} == set(FOLDERS)
    assert all(p["folder"] == Path(p["path"]).parent.name for p in first)


@pytest.mark.slow
@pytest.mark.parametrize("large", [False, True])
def test_umap_repeats_with_a_seed(large: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from clapcli.core import map_umap

    if large:  # the settings of a library above map_umap.LARGE items, on 40
        monkeypatch.setattr(map_umap, "LARGE", 20)
        assert map_umap.map_options(40) == {"n_epochs": map_umap.LARGE_EPOCHS, "init": "pca"}
    vectors = np.random.default_rng(2).standard_normal((40, 8)).astype(np.float32)
    np.testing.assert_array_equal(project(vectors, "umap", 5), project(vectors, "umap", 5))


@pytest.mark.slow
def test_fast_umap_and_its_refusal(cli, library) -> None:
    refused = cli(["map", "--db", library, "--method", "pca", "--fast"])
    assert refused.exit_code == 2 and "--fast is for --method umap" in refused.stderr
    rows = _points(cli(["map", "--db", library, "--fast", "--clusters", "0", "--format", "csv"]))
    assert len(rows) == 45 and all(np.isfinite([float(r["x"]), float(r["y"])]).all() for r in rows)


def test_colour_by_tag_and_its_errors(cli, library, tmp_path) -> None:
    refused = cli(["map", "--db", library, "--method", "pca", "--color-by", "tag"])
    assert refused.exit_code == 2 and "has no tags; run 'clap tag" in refused.stderr
    with open_store(library) as store:
        collection = store.collection("default", create=False)
        start_tag_set(collection, TagSet(["kick", "pad"], "{}", "m"))
        ids = [r[0] for r in store.connection.execute("SELECT id FROM items ORDER BY id")]
        scores = np.array([[0.9, 0.1] if i % 2 else [0.2, 0.8] for i in range(len(ids) - 1)])
        write_scores(collection, ids[:-1], ["kick", "pad"], scores)  # the last item has no scores
    rows = json.loads(cli(["map", "--db", library, "--method", "pca", "--format", "json"]).stdout)
    by_path = {row["path"]: row["tag"] for row in rows}
    assert [by_path[f"/lib/{FOLDERS[i % 3]}/{i}.wav"] for i in range(4)] == ["pad", "kick", "pad", "kick"]
    assert by_path["/lib/fx/44.wav"] == "untagged"  # 44 % 3 == 2


def test_a_png_and_too_few_items(cli, library, tmp_path) -> None:
    image = tmp_path / "map.png"
    result = cli(["map", "--db", library, "--method", "pca", "-o", image])
    assert result.exit_code == 0, result.stderr
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "map of 45 items" in result.stderr
    again = cli(["map", "--db", library, "--method", "pca", "-o", image])
    assert again.exit_code != 0 and image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # never replaced unasked
    small = tmp_path / "small.db"
    with open_store(small) as store:
        store.collection("default", "m", 2).upsert([ItemRow("/a.wav", "h", np.ones(2), 1.0)])
    few = cli(["map", "--db", small, "--method", "pca"])
    assert few.exit_code == 2 and "at least 3 items" in few.stderr


def test_exact_knn_equals_brute_force_with_each_item_first() -> None:
    from clapcli.core.map_umap import exact_knn

    vectors = np.random.default_rng(3).standard_normal((300, 8)).astype(np.float32)
    vectors[7] = vectors[5]  # an exact twin: each is still its own first neighbour
    indices, distances = exact_knn(vectors, 6)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit @ unit.T
    assert indices[:, 0].tolist() == list(range(300)) and np.allclose(distances[:, 0], 0, atol=1e-6)
    assert indices[5, 1] == 7 and indices[7, 1] == 5
    for row in range(300):
        others = [i for i in np.argsort(-cosine[row], kind="stable") if i != row][:5]
        assert set(indices[row, 1:].tolist()) == set(others)
        np.testing.assert_allclose(distances[row, 1:], 1 - np.sort(cosine[row, others])[::-1], atol=1e-5)
