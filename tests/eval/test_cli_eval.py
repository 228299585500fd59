"""``clap eval`` end to end with the tiny checkpoints, on each synthesized layout."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from eval_data import write_csv
from laion_metrics_reference import laion_clotho_metrics
from sklearn import metrics as skm


def _json(result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_classify_esc50_report_and_predictions_equal_clap_classify(cli, tiny_clap, esc50_dir, tmp_path):
    report = tmp_path / "esc50.json"
    rows = _json(cli(["eval", "classify", esc50_dir, "-m", tiny_clap, "-f", "json", "--report", report, "-q"]))
    assert len(rows) == 1 and rows[0]["dataset"] == "esc50" and rows[0]["n"] == 12
    doc = json.loads(report.read_text())
    (entry,) = doc["models"]
    assert entry["protocol"]["template"] == "This is a sound of {}."
    assert "eval_zeroshot_classification.py" in entry["protocol"]["template_source"]
    assert entry["protocol"]["long_audio"] == "mean" and entry["protocol"]["folds"] == [1, 2]
    predictions = entry["predictions"]
    assert len(predictions) == 12

    # the same files, labels and template through `clap classify`
    labels = "dog,chirping birds,vacuum cleaner"
    files = [p["path"] for p in predictions]
    plain = cli(["classify", *files, "-m", tiny_clap, "--labels", labels, "--template", "This is a sound of {}.",
                 "-f", "json", "-k", "3", "-q"])
    assert plain.exit_code == 0, plain.stderr
    by_path = {r["path"]: r["predictions"] for r in json.loads(plain.stdout)}
    texts = {"dog": "dog", "chirping_birds": "chirping birds", "vacuum_cleaner": "vacuum cleaner"}
    for item in predictions:
        reference = by_path[item["path"]]
        assert texts[item["predicted"]] == reference[0]["label"]
        assert [p["label"] for p in item["top"]] == [p["label"] for p in reference]
        np.testing.assert_allclose([p["score"] for p in item["top"]], [p["score"] for p in reference], atol=1e-6)

    # the figures are scikit-learn's on those predictions
    truth = [p["truth"] for p in predictions]
    predicted = [p["predicted"] for p in predictions]
    assert rows[0]["top1"] == pytest.approx(skm.accuracy_score(truth, predicted))
    assert rows[0]["macro_f1"] == pytest.approx(skm.f1_score(truth, predicted, average="macro", zero_division=0))
    matrix = skm.confusion_matrix(truth, predicted, labels=doc["dataset"]["classes"])
    assert entry["confusion"]["matrix"] == matrix.tolist()
    folds = [entry["per_fold"][k]["top1"] for k in ("1", "2")]
    assert entry["fold_mean"]["top1"] == pytest.approx(np.mean(folds))
    for fold in (1, 2):
        sub = [p for p in predictions if p["fold"] == fold]
        assert entry["per_fold"][str(fold)]["top1"] == pytest.approx(np.mean([p["correct"] for p in sub]))


def test_two_models_one_row_each_confusion_and_plot(cli, tiny_clap, tiny_clap_b, us8k_dir, tmp_path):
    confusion, plot = tmp_path / "cm.csv", tmp_path / "cm.png"
    result = cli(["eval", "classify", us8k_dir, "-m", tiny_clap, "-m", tiny_clap_b, "--fold", "2", "--fold", "3",
                  "-f", "csv", "--confusion", confusion, "--plot", plot, "--by-fold", "-q"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(Path(r["model"]).name, r["fold"]) for r in rows] == [
        ("tiny-clap", "2"), ("tiny-clap", "3"), ("tiny-clap", "all"),
        ("tiny-clap-b", "2"), ("tiny-clap-b", "3"), ("tiny-clap-b", "all")]
    assert all(r["dataset"] == "urbansound8k" for r in rows) and rows[2]["n"] == "6"
    for model, row in ((tiny_clap, rows[2]), (tiny_clap_b, rows[5])):
        slug = str(model).strip("/").replace("/", "_")
        table = list(csv.reader((tmp_path / f"cm.{slug}.csv").read_text().splitlines()))
        assert table[0][1:] == ["air_conditioner", "car_horn", "dog_bark"]
        counts = np.array([[int(v) for v in line[1:]] for line in table[1:]])
        assert counts.sum() == 6 and np.trace(counts) / 6 == pytest.approx(float(row["top1"]))
        assert (tmp_path / f"cm.{slug}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gtzan_uses_the_song_template_and_markdown(cli, tiny_clap, gtzan_dir, tmp_path):
    report = tmp_path / "g.json"
    result = cli(["eval", "classify", gtzan_dir, "-m", tiny_clap, "-f", "markdown", "--report", report, "-q"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| model | dataset | fold | n | top1 |") and lines[1].startswith("|---|---|")
    assert "| gtzan |" in lines[2] and "| 10 |" in lines[2]
    assert json.loads(report.read_text())["models"][0]["protocol"]["template"] == "This is a {} song."


def test_folders_csv_labels_file_and_template(cli, tiny_clap, folders_dir, labels_csv, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("lluvia\nhabla\ntono agudo\n", encoding="utf-8")
    a = _json(cli(["eval", "classify", folders_dir, "-m", tiny_clap, "-f", "json", "--labels-file", labels,
                   "--template", "{}", "-q"]))
    b = _json(cli(["eval", "classify", labels_csv, "-m", tiny_clap, "-f", "json", "--labels-file", labels,
                   "--preset", "label", "-q"]))
    assert a[0]["dataset"] == "folders" and b[0]["dataset"] == "csv"
    assert a[0]["top1"] == b[0]["top1"] and a[0]["macro_f1"] == b[0]["macro_f1"]
    assert b[0]["fold_mean_top1"] is not None and a[0]["fold_mean_top1"] is None


def test_db_reuses_audio_embeddings(cli, tiny_clap, folders_dir, tmp_path):
    db = tmp_path / "eval.db"
    first = cli(["eval", "classify", folders_dir, "-m", tiny_clap, "-f", "json", "--db", db])
    second = cli(["eval", "classify", folders_dir, "-m", tiny_clap, "-f", "json", "--db", db, "--preset", "label"])
    again = cli(["eval", "classify", folders_dir, "-m", tiny_clap, "-f", "json", "--preset", "label"])
    assert "reused" not in first.stderr and "6 embeddings reused" in second.stderr
    assert _json(second)[0]["top1"] == _json(again)[0]["top1"]
    assert _json(second)[0]["macro_f1"] == pytest.approx(_json(again)[0]["macro_f1"])


def test_retrieve_clotho_equals_laion_on_the_models_embeddings(cli, loaded_clap, tiny_clap, clotho_csv, tmp_path):
    from clapcli.core.eval.captions import read_retrieval
    from clapcli.core.eval.embedding import embed_paths
    from clapcli.core.text import encode_texts

    audio_dir = clotho_csv.parent / "evaluation"
    report = tmp_path / "r.json"
    rows = _json(cli(["eval", "retrieve", clotho_csv, "--audio", audio_dir, "-m", tiny_clap, "-f", "json",
                      "--report", report, "-q"]))
    data = read_retrieval(clotho_csv, audio_dir)
    audio = embed_paths(loaded_clap, data.clips).matrix
    text = encode_texts(loaded_clap, data.captions)
    reference = laion_clotho_metrics(audio, text)
    for key in ("R@1", "R@5", "R@10", "mAP@10", "median_rank"):
        assert rows[0][f"t2a_{key}"] == pytest.approx(reference[f"text_to_audio_{key}"], abs=1e-6)
    for key in ("R@1", "R@5", "R@10"):
        assert rows[0][f"a2t_{key}"] == pytest.approx(reference[f"audio_to_text_{key}"], abs=1e-6)
    doc = json.loads(report.read_text())
    assert doc["dataset"]["layout"] == "clotho" and len(doc["models"][0]["ranks"]["text_to_audio"]) == 30


def test_retrieve_audiocaps_and_generic(cli, tiny_clap, tiny_clap_b, audiocaps_csv, folders_dir, tmp_path):
    rows = _json(cli(["eval", "retrieve", audiocaps_csv, "--audio", audiocaps_csv.parent / "test", "-m", tiny_clap,
                      "-m", tiny_clap_b, "-f", "json", "-q"]))
    assert [r["dataset"] for r in rows] == ["audiocaps", "audiocaps"] and rows[0]["captions"] == 9
    pairs = write_csv(tmp_path / "pairs.csv", ["path", "caption"],
                      [[str(folders_dir / "rain/0.wav"), "rain"], [str(folders_dir / "speech/0.wav"), "talk"]])
    (row,) = _json(cli(["eval", "retrieve", pairs, "-m", tiny_clap, "-f", "json", "-q"]))
    assert row["dataset"] == "csv" and row["clips"] == 2 and 0 <= row["t2a_R@1"] <= 1


# ------------------------------------------------------------------------ failures users can hit


def test_malformed_metadata_is_one_line_exit_1(cli, esc50_dir, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", ["path", "label"], [["nope.wav", "dog"]])
    result = cli(["eval", "classify", bad])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"error: {bad}:2: no such file '{tmp_path / 'nope.wav'}'; fix the "
                                                  "path, give --audio DIR, or pass --skip-missing to leave such rows "
                                                  "out"]


def test_broken_clip_is_named_and_exit_3(cli, tiny_clap, folders_dir, tmp_path):
    import shutil

    root = Path(shutil.copytree(folders_dir, tmp_path / "set"))
    (root / "rain" / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    result = cli(["eval", "classify", root, "-m", tiny_clap, "-f", "json"])
    assert result.exit_code == 3
    assert "broken.wav" in result.stderr and _json_rows(result)[0]["n"] == 6


def _json_rows(result) -> list[dict]:
    return json.loads(result.stdout)


@pytest.mark.parametrize(("args", "message"), [
    (["--fold", "9"], "no fold 9 (folds: 1, 2)"),
    (["--template", "x {}", "--preset", "laion"], "give --template or --preset, not both"),
    (["--preset", "nope"], "--preset nope: unknown"),
    (["--template", "no slot"], "must contain '{}'"),
])
def test_usage_errors(cli, tiny_clap, esc50_dir, args, message):
    result = cli(["eval", "classify", esc50_dir, "-m", tiny_clap, *args])
    assert result.exit_code in (1, 2) and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_existing_outputs_are_refused_before_work(cli, esc50_dir, tmp_path):
    report = tmp_path / "r.json"
    report.write_text("{}")
    result = cli(["eval", "classify", esc50_dir, "--report", report, "-m", "/no/such/model"])
    assert result.exit_code == 1 and "already exists; pass --overwrite" in result.stderr
    assert report.read_text() == "{}"


def test_help_has_examples(cli):
    for sub in ("classify", "retrieve"):
        result = cli(["eval", sub, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.stdout and f"clap eval {sub}" in result.stdout
