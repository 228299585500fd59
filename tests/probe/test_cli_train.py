"""``clap train`` and ``clap classify --probe`` end to end with the tiny checkpoints."""

from __future__ import annotations

import json
import shutil

import numpy as np

from clapcli.core.probe.store import load_probe

CLASSES = ["low_hum", "mid_tone", "high_whistle"]  # as tests/probe/conftest.py writes them


def _embeddings(cli, model, files) -> dict[str, np.ndarray]:
    result = cli(["embed", *files, "-m", model, "-f", "jsonl", "-q"])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["path"]: np.array(row["embedding"], dtype=np.float32) for row in rows}


def test_train_then_classify_with_the_probe(cli, tiny_clap, tone_folders, tmp_path):
    out = tmp_path / "probe"
    result = cli(["train", tone_folders, "-o", out, "-m", tiny_clap])
    assert result.exit_code == 0, result.stderr
    assert f"probe written to {out}: 3 classes, 18 files; cross-validated accuracy" in result.stderr
    manifest = json.loads((out / "probe.json").read_text())
    assert manifest["model"]["id"] == str(tiny_clap) and manifest["embedding_dim"] == 16
    assert manifest["training"]["counts"] == dict.fromkeys(sorted(CLASSES), 6)
    assert len(manifest["training"]["hash"]) == 64 and manifest["clapcli_version"]
    low, high = manifest["cross_validation"]["ci95"]
    assert low <= manifest["cross_validation"]["value"] <= high

    files = [str(p) for p in sorted(tone_folders.rglob("*.wav"))][::5]
    listed = cli(["classify", *files, "--probe", out, "-f", "json", "-k", "3", "-q"])  # model from the manifest
    assert listed.exit_code == 0, listed.stderr
    probe = load_probe(out)
    vectors = _embeddings(cli, tiny_clap, files)
    for row in json.loads(listed.stdout):  # each result against its own input
        expected = probe.probabilities(vectors[row["path"]][None])[0]
        for prediction in row["predictions"]:
            assert abs(prediction["score"] - expected[probe.classes.index(prediction["label"])]) < 1e-5

    again = cli(["train", tone_folders, "-o", out, "-m", tiny_clap, "-q"])
    assert again.exit_code == 1 and "already holds a probe; add --overwrite" in again.stderr


def test_probe_with_another_model_or_labels_is_refused(cli, tiny_clap, other_tiny_clap, tone_folders, tmp_path):
    out = tmp_path / "probe"
    assert cli(["train", tone_folders, "-o", out, "-m", tiny_clap, "-q"]).exit_code == 0
    wav = str(next(tone_folders.rglob("*.wav")))
    other = cli(["classify", wav, "--probe", out, "-m", other_tiny_clap, "-q"])
    assert other.exit_code == 1 and other.stderr.count("\n") == 1
    assert f"trained on '{tiny_clap}', not '{other_tiny_clap}'" in other.stderr
    labels = cli(["classify", wav, "--probe", out, "--labels", "a,b", "-q"])
    assert labels.exit_code == 2 and "--probe gives the labels" in labels.stderr
    missing = cli(["classify", wav, "--probe", tmp_path / "none", "-q"])
    assert missing.exit_code == 1 and "no such directory" in missing.stderr


def test_one_class_dataset_is_refused_before_loading(cli, tone_folders, tmp_path):
    data = tmp_path / "one.csv"
    data.write_text("path,label\n" + "".join(f"{p},same\n" for p in sorted(tone_folders.rglob("*.wav"))[:3]))
    result = cli(["train", data, "-o", tmp_path / "p", "-m", "does/not-exist", "-q"])
    assert result.exit_code == 1 and result.stderr.strip().count("\n") == 0
    assert "a probe needs at least two classes" in result.stderr


def test_a_bad_file_is_named_and_the_rest_trains(cli, tiny_clap, tone_folders, tmp_path):
    data = tmp_path / "sounds"
    shutil.copytree(tone_folders, data)
    (data / CLASSES[0] / "broken.wav").write_text("not audio at all\n" * 20)
    result = cli(["train", data, "-o", tmp_path / "p", "-m", tiny_clap])
    assert result.exit_code == 3, result.stderr
    assert "broken.wav" in result.stderr
    manifest = json.loads((tmp_path / "p" / "probe.json").read_text())
    assert manifest["training"]["files"] == 18 and manifest["training"]["counts"][CLASSES[0]] == 6


def test_multi_label_csv(cli, tiny_clap, tone_folders, tmp_path):
    rows = []
    for path in sorted(tone_folders.rglob("*.wav")):
        tags = {"low_hum": "low;tonal", "mid_tone": "tonal", "high_whistle": "high;tonal;bright"}[path.parent.name]
        rows.append(f"{path},{tags}\n")
    data = tmp_path / "tags.csv"
    data.write_text("path,labels\n" + "".join(rows))
    out = tmp_path / "tagger"
    # "tonal" is on every file: refused in one line
    refused = cli(["train", data, "-o", out, "-m", tiny_clap, "--multi-label", "-q"])
    assert refused.exit_code == 1 and "class 'tonal' is on every training file" in refused.stderr
    data.write_text("path,labels\n" + "".join(r.replace(";tonal", "").replace(",tonal", ",mid") for r in rows))
    result = cli(["train", data, "-o", out, "-m", tiny_clap, "--multi-label", "-q"])
    assert result.exit_code == 0, result.stderr
    probe = load_probe(out)
    assert probe.multi_label and probe.classes == ["bright", "high", "low", "mid"]
    wav = str(next(tone_folders.rglob("*.wav")))
    listed = json.loads(cli(["classify", wav, "--probe", out, "-f", "json", "-q"]).stdout)
    scores = [p["score"] for p in listed[0]["predictions"]]
    assert len(scores) == 4 and all(0 < s < 1 for s in scores)  # sigmoids, not a softmax over the classes


def test_without_scikit_learn_one_line_names_the_extra(cli, tiny_clap, tone_folders, tmp_path, monkeypatch):
    import sys

    for name in ("sklearn", "sklearn.linear_model", "sklearn.model_selection"):
        monkeypatch.setitem(sys.modules, name, None)  # "not installed"
    result = cli(["train", tone_folders, "-o", tmp_path / "p", "-m", tiny_clap, "-q"])
    assert result.exit_code == 1 and result.stderr.strip().count("\n") == 0
    assert "pip install 'clapcli[train]'" in result.stderr
    assert not (tmp_path / "p").exists()
