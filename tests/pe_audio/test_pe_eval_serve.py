"""clap eval (classify, retrieve) and clap serve with PE-Audio, checked against transformers' own outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pe_models import reference_forward

CLASSES = ["low tone", "high tone", "noise burst"]


def _write_set(root: Path) -> dict[str, list[Path]]:
    """Two 48 kHz clips per class, of different lengths, in class folders."""
    rate, rng = 48_000, np.random.default_rng(3)
    files: dict[str, list[Path]] = {}
    for index, name in enumerate(CLASSES):
        for take in range(2):
            n = int((0.5 + 0.3 * take + 0.1 * index) * rate)
            t = np.arange(n) / rate
            samples = 0.05 * rng.standard_normal(n) if index == 2 else 0.4 * np.sin(2 * np.pi * 300 * (index + 1) * t)
            path = root / name / f"{take}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, samples.astype(np.float32), rate, subtype="FLOAT")
            files.setdefault(name, []).append(path)
    return files


@pytest.fixture(scope="module")
def class_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return _write_set(tmp_path_factory.mktemp("pe-eval") / "classes")


def test_eval_classify_ranks_as_the_models_logits(cli, tiny_pe, class_set, tmp_path) -> None:
    root = class_set[CLASSES[0]][0].parent.parent
    report = tmp_path / "report.json"
    result = cli(["eval", "classify", root, "-m", tiny_pe, "-f", "json", "--report", report, "-q",
                  "--template", "{}"])
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    predictions = json.loads(report.read_text())["models"][0]["predictions"]
    paths = [Path(p["path"]) for p in predictions]
    logits, _, _ = reference_forward(tiny_pe, paths, CLASSES)
    for item, logit in zip(predictions, logits):  # each clip's labels ranked by the model's own logits
        order = np.argsort(-logit.numpy(), kind="stable")
        assert [p["label"] for p in item["top"]] == [CLASSES[i] for i in order]
    truth = [CLASSES.index(p.parent.name) for p in paths]
    predicted = [int(np.argmax(logit.numpy())) for logit in logits]
    assert row["top1"] == pytest.approx(np.mean(np.array(truth) == np.array(predicted)))


def test_eval_retrieve_recall_from_the_models_embeddings(cli, tiny_pe, class_set, tmp_path) -> None:
    clips = [paths[0] for paths in class_set.values()]
    captions = ["a low hum", "a high whistle", "hissing noise"]
    pairs = tmp_path / "pairs.csv"
    with pairs.open("w", newline="") as handle:
        csv.writer(handle).writerows([["path", "caption"], *[[str(c), t] for c, t in zip(clips, captions)]])
    result = cli(["eval", "retrieve", pairs, "-m", tiny_pe, "-f", "json", "-q"])
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    _, audio, text = reference_forward(tiny_pe, clips, captions)
    a = np.stack([v.numpy() for v in audio]).astype(np.float64)
    t = text.numpy().astype(np.float64)
    cosines = (t / np.linalg.norm(t, axis=1, keepdims=True)) @ (a / np.linalg.norm(a, axis=1, keepdims=True)).T
    hits = np.argmax(cosines, axis=1) == np.arange(len(captions))
    assert row["t2a_R@1"] == pytest.approx(hits.mean())


def test_serve_classify_and_search(cli, tiny_pe, class_set, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from clapcli.models.loading import load_embedding_model
    from clapcli.serve import ServeOptions, build

    root = class_set[CLASSES[0]][0].parent.parent
    db = tmp_path / "lib.db"
    assert cli(["embed", root, "--db", db, "--model", tiny_pe, "-q", "--runtime", "torch"]).exit_code == 0
    loaded = load_embedding_model(str(tiny_pe), device="cpu", runtime="torch")
    app = build(ServeOptions(db, check_interval=0.0), loader=lambda model_id: loaded)
    path = class_set["high tone"][1]
    logits, audio, _ = reference_forward(tiny_pe, [path], CLASSES)
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            response = client.post("/api/classify", files={"file": (path.name, path.read_bytes())},
                                   data={"labels": ", ".join(CLASSES)})
            assert response.status_code == 200, response.text
            got = {s["label"]: s["score"] for s in response.json()["predictions"]}
            expected = 1 / (1 + np.exp(-logits[0].numpy().astype(np.float64)))
            np.testing.assert_allclose([got[c] for c in CLASSES], expected, atol=1e-5)
            response = client.post("/api/search/audio", files={"file": (path.name, path.read_bytes())},
                                   data={"k": "1"})
            assert response.status_code == 200, response.text
            assert Path(response.json()["hits"][0]["path"]).resolve() == path.resolve()  # finds itself first
    finally:
        app.fastapi.state.engine.close()
