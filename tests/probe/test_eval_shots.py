"""``clap eval classify --probe-shots``: never trains on the test fold; rows beside zero-shot's."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from clapcli.core.probe.shots import shot_splits


@pytest.mark.parametrize("shots", [1, 4, 16])
def test_a_test_item_is_never_a_training_item(shots):
    rng = np.random.default_rng(shots)
    folds = rng.integers(1, 6, 400)
    labels = rng.integers(0, 10, 400)
    paths = [f"clip{i}.wav" for i in range(400)]
    seen = set()
    for fold, train, test in shot_splits(folds, labels, shots, 10):
        assert not ({paths[i] for i in train} & {paths[i] for i in test})  # by identity of the file
        assert (folds[train] != fold).all() and (folds[test] == fold).all()
        assert set(test.tolist()) == set(np.flatnonzero(folds == fold).tolist())
        counts = np.bincount(labels[train], minlength=10)
        available = np.bincount(labels[folds != fold], minlength=10)
        assert (counts == np.minimum(shots, available)).all()
        seen.add(fold)
    assert seen == set(folds.tolist())
    again = [t.tolist() for _, t, _ in shot_splits(folds, labels, shots, 10)]
    assert again == [t.tolist() for _, t, _ in shot_splits(folds, labels, shots, 10)]  # seeded


def test_cli_probe_rows_beside_zero_shot(cli, tiny_clap, tone_folders, tmp_path):
    files = sorted(tone_folders.rglob("*.wav"))
    data = tmp_path / "labels.csv"
    data.write_text("path,label,fold\n" + "".join(f"{p},{p.parent.name},{int(p.stem) % 3 + 1}\n" for p in files))
    result = cli(["eval", "classify", data, "-m", tiny_clap, "--probe-shots", "1,2", "-f", "csv", "-q"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["method"] for r in rows] == ["zero-shot", "probe 1-shot", "probe 2-shot"]
    assert all(r["n"] == "18" for r in rows)
    plain = cli(["eval", "classify", data, "-m", tiny_clap, "-f", "csv", "-q"])
    assert rows[0]["top1"] == next(csv.DictReader(io.StringIO(plain.stdout)))["top1"]
    no_folds = cli(["eval", "classify", tone_folders, "-m", tiny_clap, "--probe-shots", "4", "-q"])
    assert no_folds.exit_code == 2 and "--probe-shots needs a dataset with two or more folds" in no_folds.stderr
    bad = cli(["eval", "classify", data, "-m", tiny_clap, "--probe-shots", "0", "-q"])
    assert bad.exit_code == 2 and "--probe-shots takes whole numbers >= 1" in bad.stderr
