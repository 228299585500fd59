"""clap export: what the directory holds, the agreement measured at export, and the export's errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from clapcli import __version__
from clapcli.errors import ModelLoadError, OutputError, UsageError
from clapcli.models.runtime.manifest import MANIFEST_NAME, read_manifest

# Unnormalized projections (the target, per embedding). Measured here: LAION <= 5e-7; MS-CLAP's
# LayerNorm'd projections (values up to ~3) 4e-7 on OpenVINO, 1.6e-5 on ONNX Runtime (cosine 1 - 2e-11).
FP32_TOLERANCE = 1e-4


@pytest.mark.parametrize("family", ["laion-clap", "msclap"])
@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_manifest_records_source_version_precision_and_agreement(exports, sources, family, fmt):
    directory = exports[family, fmt]
    manifest = read_manifest(directory)
    data = json.loads((directory / MANIFEST_NAME).read_text())
    assert (manifest.family, manifest.format, manifest.precision) == (family, fmt, "float32")
    assert manifest.source_model == str(sources[family]) and manifest.source_revision is None  # a local checkpoint
    assert data["clapcli_version"] == __version__ and data["format_version"] == 1
    assert manifest.embedding_dim == 16
    expected = {"onnx": {"audio.onnx", "text.onnx"}, "openvino": {"audio.xml", "audio.bin", "text.xml", "text.bin"}}
    assert set(manifest.files) == expected[fmt] | {"tokenizer.json"}
    assert all(size == (directory / name).stat().st_size for name, size in manifest.files.items())
    agreement = manifest.agreement
    assert agreement["runtime"] == fmt and agreement["precision"] == "float32"
    assert agreement["audio_max_abs_diff"] <= FP32_TOLERANCE and agreement["text_max_abs_diff"] <= FP32_TOLERANCE
    assert agreement["audio_min_cosine"] >= 0.9999999 and agreement["text_min_cosine"] >= 0.9999999
    assert not list(directory.parent.glob(f".{directory.name}.*"))  # no temporary directory left behind


def test_manifest_mel_and_text_settings_follow_the_family(exports):
    laion, msclap = read_manifest(exports["laion-clap", "onnx"]), read_manifest(exports["msclap", "onnx"])
    assert (laion.audio["sample_rate"], laion.audio["window_samples"], laion.audio["fit"]) == (48000, 480000,
                                                                                                "repeat-pad")
    assert (msclap.audio["sample_rate"], msclap.audio["window_samples"], msclap.audio["fit"]) == (44100, 308700,
                                                                                                  "repeat")
    assert msclap.audio["mel"]["filterbank_rate"] == 32000  # MS-CLAP's filterbank quirk survives the export
    assert laion.text["suffix"] == "" and laion.text["max_length"] == 77
    assert msclap.text["suffix"] == " <|endoftext|>" and msclap.text["pad_id"] == 0
    assert msclap.text["max_length"] is None


def test_dynamic_batch_and_text_length(exports, sources):
    """Batches and text lengths never seen at export give torch's numbers."""
    from clapcli.models.loading import load_embedding_model

    for family in ("laion-clap", "msclap"):
        torch_model = load_embedding_model(str(sources[family]), device="cpu")
        exported = load_embedding_model(str(exports[family, "openvino"]))
        texts = ["dog", "a very long text about rain falling on a tin roof while a dog barks far away and thunder"]
        assert np.abs(exported.encode_text(texts).numpy() - torch_model.encode_text(texts).numpy()).max() < 1e-5
        rng = np.random.default_rng(1)
        items = [exported.prepare(rng.standard_normal(16000).astype(np.float32)) for _ in range(5)]
        reference = torch_model.encode_prepared([torch_model.prepare(rng.standard_normal(1).astype(np.float32))])
        assert reference.shape == (1, 16)
        assert exported.encode_prepared(items).numpy().shape == (5, 16)


def test_cli_export_prints_agreement_and_json(cli, tiny_clap, tmp_path):
    result = cli(["export", tiny_clap, tmp_path / "ov"])
    assert result.exit_code == 0, result.stderr
    assert "agreement with torch float32: audio max diff" in result.stderr
    assert (tmp_path / "ov" / "audio.xml").is_file()
    again = cli(["export", tiny_clap, tmp_path / "ov"])
    assert again.exit_code == 1 and "already holds an export; add --overwrite" in again.stderr
    replaced = cli(["export", tiny_clap, tmp_path / "ov", "--overwrite", "--format", "onnx", "--json"])
    assert replaced.exit_code == 0, replaced.stderr
    assert json.loads(replaced.stdout)["format"] == "onnx"
    assert sorted(p.name for p in (tmp_path / "ov").iterdir()) == sorted([MANIFEST_NAME, "audio.onnx", "text.onnx",
                                                                          "tokenizer.json"])


def test_export_refuses_foreign_directory_and_exports(exports, tiny_clap, tmp_path):
    from clapcli.models.runtime.export import export_model

    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="is not empty and was not written by clap export"):
        export_model(str(tiny_clap), tmp_path / "busy", "onnx")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    with pytest.raises(UsageError, match="already an export; pass the checkpoint it came from"):
        export_model(str(exports["laion-clap", "onnx"]), tmp_path / "again", "onnx")
    with pytest.raises(UsageError, match="^fmt 'tflite'"):
        export_model(str(tiny_clap), tmp_path / "x", "tflite")


def test_export_of_another_family_is_refused(tmp_path):
    from clapcli.models.runtime.export import _check_exportable

    class Other:
        family, model_id = "imagebind", "facebook/imagebind"

    with pytest.raises(ModelLoadError, match="'imagebind' model, which 'clap export' cannot write"):
        _check_exportable(Other())


def test_missing_extra_is_named_before_loading(cli, tiny_clap, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    result = cli(["export", tiny_clap, tmp_path / "ov"])
    assert result.exit_code == 1
    assert "pip install 'clapcli[openvino]'" in result.stderr
    assert not (tmp_path / "ov").exists()


def test_corrupt_and_partial_exports_fail_naming_the_file(exports, tmp_path, cli, clips):
    from clapcli.models.loading import load_embedding_model

    source = exports["laion-clap", "onnx"]
    partial = tmp_path / "partial"
    shutil.copytree(source, partial)
    (partial / "text.onnx").unlink()
    with pytest.raises(ModelLoadError, match=r"incomplete: text.onnx is missing; export again"):
        load_embedding_model(str(partial))
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    (broken / "audio.onnx").write_bytes(b"\x00not a graph")
    result = cli(["embed", clips[0], "--model", broken, "-f", "jsonl"])
    assert result.exit_code == 1 and "audio.onnx is not a readable ONNX model" in result.stderr
    assert "Traceback" not in result.stderr
    for damage, message in (
        (lambda d: {**d, "format_version": 99, "clapcli_version": "9.0"}, "written by a newer clapcli \\(9.0"),
        (lambda d: {**d, "family": "imagebind"}, "'imagebind' model, which the exported runtimes do not serve"),
        (lambda d: [1, 2], "is not a JSON object"),
    ):
        bad = tmp_path / f"bad{len(list(tmp_path.iterdir()))}"
        shutil.copytree(source, bad)
        data = json.loads((bad / MANIFEST_NAME).read_text())
        (bad / MANIFEST_NAME).write_text(json.dumps(damage(data)))
        with pytest.raises(ModelLoadError, match=message):
            load_embedding_model(str(bad))
    (bad / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ModelLoadError, match="unreadable"):
        load_embedding_model(str(bad))
