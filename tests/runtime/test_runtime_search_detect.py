"""--runtime/--precision on clap retrieve, clap detect and clap eval: the same numbers as torch (<= 1e-4)."""

from __future__ import annotations

import csv
import json

import numpy as np

TOLERANCE = 1e-4


def test_retrieve_with_an_exported_runtime_over_a_torch_library(cli, sources, clips, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    db = tmp_path / "lib.db"
    built = cli(["embed", *clips, "--model", sources["laion-clap"], "--db", db, "-q"])
    assert built.exit_code == 0, built.stderr

    def hits(*options):
        found = cli(["retrieve", "a rising tone", "--db", db, "-f", "jsonl", "-k", "3", *options])
        assert found.exit_code == 0, found.stderr
        return [json.loads(line) for line in found.stdout.splitlines()]

    reference = hits("--runtime", "torch")
    for runtime in ("onnx", "openvino"):
        other = hits("--runtime", runtime, "-q")
        assert [h["path"] for h in other] == [h["path"] for h in reference]
        assert max(abs(a["score"] - b["score"]) for a, b in zip(reference, other)) <= TOLERANCE
    assert len(list((tmp_path / "home" / "exports").iterdir())) == 2  # the library's model, exported per runtime
    bad = cli(["retrieve", "a rising tone", "--db", db, "--precision", "int8", "--runtime", "openvino"])
    assert bad.exit_code == 2 and "--precision int8 runs on torch or ONNX Runtime" in bad.stderr


def test_detect_frames_with_an_exported_runtime(cli, sources, exports, clips, tmp_path):
    def frames(model, name):
        path = tmp_path / f"{name}.csv"
        result = cli(["detect", clips[2], "--labels", "dog,rain,engine", "--model", model, "--window", "2",
                      "--hop", "1", "--frames", path, "-f", "jsonl", "-q"])
        assert result.exit_code == 0, result.stderr
        rows = list(csv.DictReader(path.open()))
        return [{k: v for k, v in row.items() if k not in ("dog", "rain", "engine")} for row in rows], \
            np.array([[float(row[k]) for k in ("dog", "rain", "engine")] for row in rows])

    keys, reference = frames(sources["laion-clap"], "torch")
    for fmt in ("onnx", "openvino"):
        other_keys, other = frames(exports["laion-clap", fmt], fmt)
        assert other_keys == keys and len(keys) >= 20  # a 23 s chirp, one row per 1 s hop
        assert np.abs(reference - other).max() <= TOLERANCE


def test_detect_and_eval_take_the_precision_vocabulary(cli, sources, clips):
    result = cli(["detect", clips[0], "--labels", "dog,rain", "--model", sources["laion-clap"], "--precision", "int8",
                  "-f", "jsonl"])
    assert result.exit_code == 0, result.stderr
    for command in (["detect"], ["eval", "classify"], ["eval", "retrieve"], ["retrieve"]):
        shown = cli([*command, "--help"], env={"COLUMNS": "250"}).stdout
        assert "exact|fast|bfloat16|float16|int8" in shown and "auto|torch|openvino|onnx" in shown, command
