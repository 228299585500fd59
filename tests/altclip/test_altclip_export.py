"""clap export of AltCLIP / CLIP: image and text towers as ONNX and OpenVINO, run without torch.

Numbers are checked against the torch backend and the transformers image processor / tokenizer
on the same inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clapcli.media.image import load_image, to_rgb
from clapcli.models.runtime.image import ImagePreprocessor, image_settings

TOLERANCE = 1e-5
TEXTS = ["a photo of a cat", "一只狗", "ein rotes Quadrat", "a cat on the sofa in the park " * 20, "blue"]


@pytest.fixture(scope="module")
def image_exports(tmp_path_factory, tiny_altclip, tiny_clip) -> dict[tuple[str, str], Path]:
    from clapcli.models.runtime.export import export_model

    root = tmp_path_factory.mktemp("image-exports")
    out = {}
    for name, source, formats in (("altclip", tiny_altclip, ("onnx", "openvino")), ("clip", tiny_clip, ("onnx",))):
        for fmt in formats:
            out[name, fmt] = root / f"{name}-{fmt}"
            export_model(str(source), out[name, fmt], fmt)
    return out


def synthetic_images() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    images = []
    for height, width in ((48, 80), (90, 60), (32, 32), (7, 13), (101, 33), (1, 50), (33, 64), (257, 129)):
        images.append(Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)))
    gray = Image.fromarray(rng.integers(0, 256, (45, 70), dtype=np.uint8))
    rgba = Image.fromarray(rng.integers(0, 256, (40, 52, 4), dtype=np.uint8), "RGBA")
    return [*images, gray, rgba, gray.convert("P"), gray.convert("1"), gray.convert("CMYK")]


def assert_same_pixels(processor, images) -> None:
    ours = ImagePreprocessor(image_settings(processor))
    for image in images:
        expected = processor(images=to_rgb(image), return_tensors="np")["pixel_values"][0]
        got = ours(image)
        assert got.shape == expected.shape and got.dtype == np.float32, (image.size, image.mode)
        assert np.abs(got - expected).max() <= 1e-6, (image.size, image.mode)


def test_preprocessing_equals_the_checkpoint_image_processor(reference_altclip, image_files):
    processor = reference_altclip[1].image_processor
    files = [load_image(path) for path in image_files.values()]
    assert_same_pixels(processor, synthetic_images() + files)


@pytest.mark.parametrize("settings", [
    {"size": {"shortest_edge": 24}, "crop_size": {"height": 32, "width": 28}, "resample": 2},  # crop pads
    {"size": {"height": 30, "width": 20}, "crop_size": {"height": 16, "width": 16}, "resample": 0},
    {"size": {"shortest_edge": 40}, "crop_size": {"height": 33, "width": 35}, "resample": 1,
     "image_mean": [0.5, 0.4, 0.3], "image_std": [0.2, 0.3, 0.25]},
])
def test_preprocessing_other_settings(settings):
    from transformers import CLIPImageProcessorPil

    assert_same_pixels(CLIPImageProcessorPil(**settings), synthetic_images())


def test_export_writes_image_and_text_towers_and_manifest(image_exports, tiny_altclip):
    directory = image_exports["altclip", "openvino"]
    manifest = json.loads((directory / "clapcli-export.json").read_text())
    assert manifest["family"] == "altclip" and manifest["format"] == "openvino"
    assert manifest["source_model"] == str(tiny_altclip)
    assert {"image.xml", "image.bin", "text.xml", "text.bin", "tokenizer.json"} <= set(manifest["files"])
    assert manifest["image"]["size"] == {"shortest_edge": 32} and manifest["image"]["resample"] == 3
    agreement = manifest["agreement"]
    assert agreement["image_max_abs_diff"] <= TOLERANCE and agreement["text_max_abs_diff"] <= TOLERANCE
    assert sorted(p.name for p in image_exports["altclip", "onnx"].iterdir()) == [
        "clapcli-export.json", "image.onnx", "text.onnx", "tokenizer.json"]


@pytest.mark.parametrize("key", [("altclip", "onnx"), ("altclip", "openvino"), ("clip", "onnx")])
def test_token_ids_equal_the_transformers_tokenizer(image_exports, key):
    from clapcli.models.loading import load_embedding_model

    exported = load_embedding_model(str(image_exports[key]))
    torch_model = load_embedding_model(json.loads((image_exports[key] / "clapcli-export.json").read_text())
                                       ["source_model"], device="cpu")
    ids, mask = exported.tokens(TEXTS)
    expected = torch_model.tokenizer(TEXTS, padding=True, truncation=True, max_length=torch_model.max_text_tokens,
                                     return_tensors="np")
    assert ids.shape[1] == torch_model.max_text_tokens  # the long text is truncated as torch truncates it
    assert np.array_equal(ids, expected["input_ids"]) and np.array_equal(mask, expected["attention_mask"])


@pytest.mark.parametrize("key", [("altclip", "onnx"), ("altclip", "openvino"), ("clip", "onnx")])
def test_embeddings_agree_with_torch(image_exports, image_files, key):
    from clapcli.models.loading import load_embedding_model

    exported = load_embedding_model(str(image_exports[key]))
    assert exported.runtime == key[1] and exported.modality == "image"
    source = json.loads((image_exports[key] / "clapcli-export.json").read_text())["source_model"]
    torch_model = load_embedding_model(source, device="cpu")
    images = [load_image(p) for p in list(image_files.values())[:8]] + synthetic_images()[:4]
    reference = torch_model.encode_prepared([torch_model.prepare(i) for i in images]).numpy()
    got = exported.encode_prepared([exported.prepare(i) for i in images]).numpy()
    assert got.shape == reference.shape == (len(images), 16)
    assert np.abs(got - reference).max() <= TOLERANCE
    text_reference = torch_model.encode_text(TEXTS).numpy()
    assert np.abs(exported.encode_text(TEXTS).numpy() - text_reference).max() <= TOLERANCE
    assert exported.logit_scale == pytest.approx(torch_model.logit_scale)


def run_embed(cli, model, paths) -> dict[str, np.ndarray]:
    result = cli(["embed", *paths, "--text", "一只猫", "--text", "a red square", "--model", model, "-f", "jsonl"])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["path"] or row["text"]: np.array(row["embedding"]) for row in rows}


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_cli_embed_with_export_equals_torch(cli, image_exports, tiny_altclip, image_files, fmt):
    paths = [image_files[name] for name in ("rgb.jpg", "gray16.png", "rgba.png", "palette.png", "exif_rotated.jpg")]
    reference = run_embed(cli, tiny_altclip, paths)
    exported = run_embed(cli, image_exports["altclip", fmt], paths)
    assert reference.keys() == exported.keys() and len(reference) == 7
    for key in reference:
        assert np.abs(reference[key] - exported[key]).max() <= TOLERANCE, key


def test_cli_classify_with_export_same_ranking_and_scores(cli, image_exports, tiny_altclip, image_files):
    def ranked(model):
        paths = list(image_files.values())[:6]
        result = cli(["classify", *paths, "--labels", "一只猫,一只狗,ein Auto,a red square", "--model", model,
                      "-f", "jsonl"])
        assert result.exit_code == 0, result.stderr
        return [json.loads(line)["predictions"] for line in result.stdout.splitlines()]

    reference, exported = ranked(tiny_altclip), ranked(image_exports["altclip", "openvino"])
    assert len(reference) == 6
    assert [[p["label"] for p in r] for r in reference] == [[p["label"] for p in r] for r in exported]
    assert max(abs(a["score"] - b["score"]) for r, e in zip(reference, exported) for a, b in zip(r, e)) < 1e-5


def test_cli_export_command_writes_altclip(cli, tiny_altclip, tmp_path):
    result = cli(["export", tiny_altclip, tmp_path / "alt", "--format", "onnx"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "alt" / "image.onnx").is_file() and (tmp_path / "alt" / "text.onnx").is_file()


def test_image_export_path_does_not_import_torch(image_exports, image_files):
    """A fresh interpreter classifies an image with the export: torch never enters sys.modules."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('TORCH=%s\\n' % ('torch' in sys.modules)))\n"
        "from clapcli.cli import main\n"
        f"sys.argv = ['clap', 'classify', {str(image_files['rgb.png'])!r}, '--labels', 'cat,dog', '--model', "
        f"{str(image_exports['altclip', 'openvino'])!r}, '-f', 'jsonl']\n"
        "main()\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "TORCH=False" in done.stderr
    assert json.loads(done.stdout)["predictions"][0]["label"] in {"cat", "dog"}


def test_missing_image_tower_is_named(cli, image_exports, image_files, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(image_exports["altclip", "onnx"], broken)
    (broken / "image.onnx").unlink()
    result = cli(["classify", image_files["rgb.png"], "--labels", "cat,dog", "--model", broken])
    assert result.exit_code != 0
    assert "image.onnx is missing" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_long_audio_on_image_export_is_refused(cli, image_exports, image_files):
    result = cli(["embed", image_files["rgb.png"], "--model", image_exports["altclip", "onnx"],
                  "--long-audio", "head", "-f", "jsonl"])
    assert result.exit_code == 2, result.stderr
    assert "--long-audio applies to audio models" in result.stderr


def test_runtime_option_exports_altclip_into_the_cache(cli, tiny_altclip, image_files, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAPCLI_HOME", str(tmp_path / "home"))
    args = ["classify", image_files["rgb.png"], "--labels", "一只猫,一只狗", "--model", tiny_altclip, "-f", "jsonl"]
    exported = cli([*args, "--runtime", "onnx"])
    assert exported.exit_code == 0, exported.stderr
    (cached,) = (tmp_path / "home" / "exports").iterdir()
    assert (cached / "image.onnx").is_file()
    reference = json.loads(cli(args).stdout)["predictions"]
    got = json.loads(exported.stdout)["predictions"]
    assert [p["label"] for p in got] == [p["label"] for p in reference]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(got, reference)) < 1e-5
