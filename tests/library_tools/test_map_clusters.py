"""``clap map``'s cluster labels: each cluster is named by the prompt nearest its mean embedding (checked by
brute force with a deterministic text model), from --labels-file, the library's tags or the built-in
vocabulary; text embedded once; another model refused; repeatable with --seed; labels drawn without overlaps."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np
import pytest

from clapcli.core.map_clusters import VOCABULARY, auto_clusters
from clapcli.store import ItemRow, open_store
from clapcli.store.tags import TagSet, start_tag_set, write_scores

sys.path.insert(0, str(Path(__file__).parent))

from map_model import HashTextModel, text_vector  # noqa: E402

DIM = 16
FOLDERS = ["drums", "pads", "fx"]  # each folder's items lie around its name's text vector
DECOYS = ["rain", "speech", "a dog", "bells"]


@pytest.fixture()
def model(monkeypatch: pytest.MonkeyPatch) -> list[HashTextModel]:
    """Every model the test's commands load (by the name they ask for)."""
    loaded: list[HashTextModel] = []

    def load(self, *_args):  # noqa: ANN001, ANN202
        loaded.append(HashTextModel(self.model, DIM))
        return loaded[-1]

    monkeypatch.setattr("clapcli.console.common.ModelOptions.load", load)
    return loaded


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    return _library(tmp_path / "lib.db", 60)


def _library(db: Path, size: int) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(size):
        folder = FOLDERS[i % 3]
        centre = text_vector(folder, DIM) / np.linalg.norm(text_vector(folder, DIM))
        rows.append(ItemRow(f"/lib/{folder}/{i}.wav", "h", centre + 0.15 * rng.standard_normal(DIM), 1.0))
    with open_store(db) as store:
        store.collection("default", "m", DIM).upsert(rows)
    return db


def _rows(result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def _stored(db: Path) -> dict[str, np.ndarray]:
    with open_store(db, readonly=True) as store:
        collection = store.collection("default", create=False)
        matrix = collection.load_matrix(cache=False)
        paths = collection.paths(matrix.ids.tolist())
        return {paths[i]: row for i, row in zip(matrix.ids.tolist(), matrix.vectors, strict=True)}


def _brute_force(rows: list[dict], vectors: dict[str, np.ndarray], prompts: list[str]) -> dict[str, str]:
    """cluster -> the prompt of highest cosine with the mean of its members' stored vectors."""
    text = np.stack([text_vector(p, DIM) for p in prompts])
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    out = {}
    for cluster in {r["cluster"] for r in rows}:
        mean = np.mean([vectors[r["path"]] for r in rows if r["cluster"] == cluster], axis=0)
        out[cluster] = prompts[int(np.argmax(text @ mean))]
    return out


def test_labels_are_the_nearest_prompt_to_each_cluster_mean(cli, library, model, tmp_path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(DECOYS + FOLDERS) + "\n")
    rows = _rows(cli(["map", "--db", library, "--method", "pca", "--clusters", "3", "--labels-file", labels,
                      "--format", "csv"]))
    assert list(rows[0]) == ["path", "x", "y", "folder", "cluster", "cluster_label"]
    assert {r["cluster"] for r in rows} == {"1", "2", "3"}
    assert {r["cluster"]: r["cluster_label"] for r in rows} == _brute_force(rows, _stored(library), DECOYS + FOLDERS)
    assert all(r["cluster_label"] == r["folder"] for r in rows)  # the planted groups, named by their own prompt
    assert len(model) == 1 and sorted(model[0].texts) == sorted(DECOYS + FOLDERS)  # each prompt embedded once


def test_more_clusters_than_groups_still_match_brute_force(cli, library, model) -> None:
    rows = _rows(cli(["map", "--db", library, "--method", "pca", "--clusters", "7", "--labels", ",".join(DECOYS),
                      "--format", "csv"]))
    assert len({r["cluster"] for r in rows}) == 7
    assert {r["cluster"]: r["cluster_label"] for r in rows} == _brute_force(rows, _stored(library), DECOYS)
    sizes = [sum(r["cluster"] == str(c) for r in rows) for c in range(1, 8)]
    assert sizes == sorted(sizes, reverse=True)  # cluster 1 is the largest


def test_prompts_from_tags_then_the_built_in_vocabulary(cli, library, model) -> None:
    rows = _rows(cli(["map", "--db", library, "--method", "pca", "--format", "csv"]))
    assert len({r["cluster"] for r in rows}) == auto_clusters(60) == 2
    assert sorted(set(model[0].texts)) == sorted(VOCABULARY) and len(model[0].texts) == len(VOCABULARY)
    assert {r["cluster"]: r["cluster_label"] for r in rows} == _brute_force(rows, _stored(library), list(VOCABULARY))
    with open_store(library) as store:  # tags: their labels, in the tag set's template
        collection = store.collection("default", create=False)
        start_tag_set(collection, TagSet(["pads", "fx", "drums"], "a {} sound", "m"))
        ids = [r[0] for r in store.connection.execute("SELECT id FROM items ORDER BY id")]
        write_scores(collection, ids, ["pads", "fx", "drums"], np.tile([0.5, 0.3, 0.2], (len(ids), 1)))
    rows = _rows(cli(["map", "--db", library, "--method", "pca", "--clusters", "3", "--format", "csv"]))
    assert sorted(model[1].texts) == ["a drums sound", "a fx sound", "a pads sound"]
    text = {label: text_vector(f"a {label} sound", DIM) for label in FOLDERS}
    vectors = _stored(library)
    for cluster in {r["cluster"] for r in rows}:
        mean = np.mean([vectors[r["path"]] for r in rows if r["cluster"] == cluster], axis=0)
        best = max(FOLDERS, key=lambda label: float(text[label] @ mean / np.linalg.norm(text[label])))
        assert {r["cluster_label"] for r in rows if r["cluster"] == cluster} == {best}


def test_by_default_no_more_clusters_than_labels(cli, model, tmp_path) -> None:
    db = _library(tmp_path / "big.db", 300)
    assert auto_clusters(300) == 5
    rows = _rows(cli(["map", "--db", db, "--method", "pca", "--labels", ",".join(FOLDERS), "--format", "csv"]))
    assert len({r["cluster"] for r in rows}) == 3 and all(r["cluster_label"] == r["folder"] for r in rows)
    rows = _rows(cli(["map", "--db", db, "--method", "pca", "--labels", ",".join(FOLDERS), "--clusters", "4",
                      "--format", "csv"]))
    assert len({r["cluster"] for r in rows}) == 4  # asked for: kept


def test_clusters_repeat_with_a_seed(cli, library, model) -> None:
    args = ["map", "--db", library, "--method", "tsne", "--clusters", "5", "--seed", "4", "--format", "csv"]
    first, second = _rows(cli(args)), _rows(cli(args))
    assert first == second and len({r["cluster"] for r in first}) == 5


def test_another_model_is_refused_and_no_clusters_loads_none(cli, library, model, monkeypatch) -> None:
    refused = cli(["map", "--db", library, "--method", "pca", "--model", "other"])
    assert refused.exit_code == 2
    note, error = refused.stderr.strip().splitlines()  # what is loaded and how to avoid it, then one error line
    assert "loading other" in note and "--clusters 0" in note
    assert error.startswith("error:") and "was built with model 'm'" in error
    assert cli(["map", "--db", library, "--method", "pca", "--model", "other", "-q"]).stderr.count("\n") == 1
    rows = _rows(cli(["map", "--db", library, "--method", "pca", "--clusters", "0", "--format", "csv"]))
    assert list(rows[0]) == ["path", "x", "y", "folder"] and len(model) == 2  # only the two refused were loaded
    both = cli(["map", "--db", library, "--method", "pca", "--clusters", "0", "--labels", "a,b"])
    assert both.exit_code == 2 and "--clusters 0" in both.stderr
    too_many = cli(["map", "--db", library, "--method", "pca", "--clusters", "51"])
    assert too_many.exit_code == 2 and "--clusters" in too_many.stderr


def test_a_png_with_labels_that_do_not_overlap(cli, library, model, tmp_path) -> None:
    image = tmp_path / "map.png"
    result = cli(["map", "--db", library, "--method", "pca", "--clusters", "3", "--labels", ",".join(FOLDERS),
                  "-o", image])
    assert result.exit_code == 0, result.stderr
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_label_boxes_are_moved_apart() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from clapcli.core.map_clusters import draw_labels

    figure = Figure(figsize=(6, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_xlim(0, 10)
    axes.set_ylim(0, 10)
    renderer = figure.canvas.get_renderer()
    # five labels on (almost) one spot, and one far away that keeps its place
    draw_labels(axes, renderer, [("kick drum", 5, 5), ("snare", 5, 5.1), ("hi-hat", 5.1, 5), ("pads", 4.9, 5),
                                 ("long ambient texture", 5, 4.9), ("alone", 1, 1)])
    boxes = [t.get_window_extent(renderer) for t in axes.texts if t.get_text()]
    assert len(boxes) == 6
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    alone = next(t for t in axes.texts if t.get_text() == "alone")
    assert alone.xyann == (0.0, 0.0)


def test_the_python_function_keeps_its_old_call_and_names_clusters_without_a_model(library) -> None:
    from clapcli.core.mapping import library_map

    points, colour = library_map(library, "default", "pca", 0, "auto")  # as before clusters: none
    assert colour == "folder" and {(p.cluster, p.cluster_label) for p in points} == {(0, "")}
    points, _ = library_map(library, "default", "pca", 0, "auto", clusters=3)
    assert {(p.cluster, p.cluster_label) for p in points} == {(c, f"cluster {c}") for c in (1, 2, 3)}
