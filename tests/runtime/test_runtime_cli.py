"""Exported runtimes through the commands: same numbers as torch, no torch imported, the runtime options."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from clapcli.errors import MissingDependencyError

TOLERANCE = 1e-5


def embeddings(cli, model, clips, extra=()) -> dict[str, np.ndarray]:
    result = cli(["embed", *clips, "--text", "a dog barking", "--text", "rain", "--model", model, "-f", "jsonl",
                  *extra])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["path"] or row["text"]: np.array(row["embedding"]) for row in rows}


@pytest.mark.parametrize("family", ["laion-clap", "msclap"])
@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_embed_with_export_equals_torch(cli, exports, sources, clips, family, fmt):
    reference = embeddings(cli, sources[family], clips)
    exported = embeddings(cli, exports[family, fmt], clips)
    assert reference.keys() == exported.keys() and len(reference) == 5
    for key in reference:
        assert np.abs(reference[key] - exported[key]).max() <= TOLERANCE, key


@pytest.mark.parametrize("strategy", ["head", "center"])
def test_long_audio_strategies_match_torch(cli, exports, sources, clips, strategy):
    extra = ["--long-audio", strategy]
    reference = embeddings(cli, sources["laion-clap"], clips[2:], extra)
    exported = embeddings(cli, exports["laion-clap", "onnx"], clips[2:], extra)
    assert all(np.abs(reference[k] - exported[k]).max() <= TOLERANCE for k in reference)


def test_classify_with_export_same_ranking_and_scores(cli, exports, sources, clips):
    def ranked(model):
        result = cli(["classify", *clips, "--labels", "dog,rain,music,engine", "--model", model, "-f", "jsonl"])
        assert result.exit_code == 0, result.stderr
        return [json.loads(line)["predictions"] for line in result.stdout.splitlines()]

    for family in ("laion-clap", "msclap"):
        reference, exported = ranked(sources[family]), ranked(exports[family, "openvino"])
        assert [[p["label"] for p in r] for r in reference] == [[p["label"] for p in r] for r in exported]
        assert max(abs(a["score"] - b["score"]) for r, e in zip(reference, exported) for a, b in zip(r, e)) < 1e-5


def test_retrieve_over_a_library_built_with_the_export(cli, exports, clips, tmp_path):
    model = exports["laion-clap", "onnx"]
    built = cli(["embed", *clips, "--model", model, "--db", tmp_path / "lib.db"])
    assert built.exit_code == 0, built.stderr
    found = cli(["retrieve", "a rising tone", "--model", model, "--db", tmp_path / "lib.db", "-f", "jsonl", "-k", "3"])
    assert found.exit_code == 0, found.stderr
    assert len(found.stdout.splitlines()) == 3


def test_export_path_does_not_import_torch(exports, clips):
    """A fresh interpreter runs clap classify on an export: torch never enters sys.modules, nor do
    transformers and scipy (about 0.8 s of start-up between them)."""
    heavy = "sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'scipy'})"
    script = (
        "import atexit, sys\n"
        f"atexit.register(lambda: sys.stderr.write('HEAVY=%s\\n' % {heavy}))\n"
        "from clapcli.cli import main\n"
        f"sys.argv = ['clap', 'classify', {str(clips[0])!r}, '--labels', 'dog,rain', '--model', "
        f"{str(exports['msclap', 'openvino'])!r}, '-f', 'jsonl']\n"
        "main()\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY=[]" in done.stderr
    assert json.loads(done.stdout)["predictions"][0]["label"] in {"dog", "rain"}


def test_runtime_option_exports_into_the_cache_once(cli, sources, clips, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    first = cli(["classify", clips[0], "--labels", "dog,rain", "--model", sources["laion-clap"], "--runtime", "onnx",
                 "-f", "jsonl"])
    assert first.exit_code == 0, first.stderr
    assert "exporting" in first.stderr and "once into" in first.stderr
    (cached,) = (tmp_path / "home" / "exports").iterdir()
    written = (cached / "clapcli-export.json").stat().st_mtime_ns
    second = cli(["classify", clips[0], "--labels", "dog,rain", "--model", sources["laion-clap"], "--runtime", "onnx",
                  "-f", "jsonl"])
    assert second.exit_code == 0 and "exporting" not in second.stderr
    assert (cached / "clapcli-export.json").stat().st_mtime_ns == written
    assert json.loads(first.stdout) == json.loads(second.stdout)


def test_runtime_option_errors(cli, exports, sources, clips):
    export = exports["laion-clap", "onnx"]
    cases = [
        (["--model", export, "--runtime", "torch"], 2, "holds onnx towers, not torch; pass --model with the source"),
        (["--model", export, "--runtime", "openvino"], 2, "--format openvino"),
        (["--model", exports["laion-clap", "openvino"], "--precision", "int8"], 2,
         "--precision int8 runs on torch or ONNX Runtime (--runtime onnx)"),
        (["--model", export, "--precision", "float16"], 2, "--precision float16 runs on torch"),
        (["--model", export, "--device", "cuda"], 2, "exported runtimes run on the CPU"),
        (["--model", export, "--dtype", "bfloat16"], 2, "ONNX Runtime has no bfloat16 CPU path"),
        (["--model", sources["laion-clap"], "--runtime", "tensorrt"], 2, "Invalid value for '--runtime'"),
        (["--model", export, "--precision", "turbo"], 2, "Invalid value for '--precision'"),
    ]
    for options, code, message in cases:
        result = cli(["embed", clips[0], "-f", "jsonl", *options])
        assert result.exit_code == code, (options, result.stderr)
        assert message in result.stderr, (options, result.stderr)


def test_missing_runtime_package_names_the_extra(exports, monkeypatch):
    from clapcli.models.loading import load_embedding_model

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'clapcli\[onnx\]'"):
        load_embedding_model(str(exports["laion-clap", "onnx"]))


def test_fusion_is_refused_on_an_unfused_export(cli, exports, sources, clips):
    """With the torch backends' messages (a fused export takes it: test_fused_export.py)."""
    for family, message in (("laion-clap", "needs a fused checkpoint; '{}' is unfused (use mean)"),
                            ("msclap", "needs a fused LAION checkpoint; '{}' is MS-CLAP (use mean)")):
        export = exports[family, "onnx"]
        result = cli(["embed", clips[2], "--model", export, "--long-audio", "fusion"])
        assert result.exit_code == 2 and message.format(export) in result.stderr, result.stderr
        torch = cli(["embed", clips[2], "--model", sources[family], "--long-audio", "fusion"])
        assert torch.exit_code == 2 and message.format(sources[family]) in torch.stderr, torch.stderr


def test_cli_export_needs_model_and_directory(cli, tiny_clap):
    result = cli(["export", tiny_clap])
    assert result.exit_code == 2 and "Missing argument" in result.stderr


def test_library_built_with_torch_is_searched_with_the_export(cli, exports, sources, clips, tmp_path):
    """An export keeps its source's model id: a library embedded with torch answers queries encoded by it."""
    db = tmp_path / "torch.db"
    assert cli(["embed", *clips, "--model", sources["msclap"], "--db", db]).exit_code == 0

    def hits(model):
        found = cli(["retrieve", "a rising tone", "--model", model, "--db", db, "-f", "jsonl", "-k", "3"])
        assert found.exit_code == 0, found.stderr
        return [json.loads(line) for line in found.stdout.splitlines()]

    reference, exported = hits(sources["msclap"]), hits(exports["msclap", "onnx"])
    assert [h["path"] for h in reference] == [h["path"] for h in exported]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(reference, exported)) < 1e-5
