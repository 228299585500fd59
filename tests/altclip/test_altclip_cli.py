"""``clap classify`` / ``clap embed`` with image-text models equal transformers on the same weights and images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

# Formats whose pixels need no mode conversion: the reference reads them with plain Pillow.
RGB_FILES = ["rgb.jpg", "rgb.png", "rgb.webp", "rgb.tiff", "rgb.bmp", "exif_rotated.jpg"]
LABELS = ["一只猫", "一只狗", "a car", "ein Foto von einer Katze"]


def _reference_image(path: Path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def _classify_json(cli, inputs: list, model: Path, *extra: str):
    result = cli(["classify", *inputs, "--labels", ",".join(LABELS), "-m", model, "--format", "json",
                  "--device", "cpu", *extra])
    rows = json.loads(result.stdout)
    return result, {row["path"]: row for row in rows}


def _reference_probabilities(model, processor, paths: list[Path], prompts: list[str]) -> np.ndarray:
    inputs = processor(text=prompts, images=[_reference_image(p) for p in paths], padding=True, return_tensors="pt")
    with torch.inference_mode():
        return model(**inputs).logits_per_image.softmax(dim=-1).numpy()


def _scores(row: dict) -> list[float]:
    by_label = {p["label"]: p["score"] for p in row["predictions"]}
    assert set(by_label) == set(LABELS)
    return [by_label[label] for label in LABELS]


def test_classify_equals_altclip_model_through_processor(cli, tiny_altclip, image_files, reference_altclip):
    paths = [image_files[name] for name in RGB_FILES]
    result, rows = _classify_json(cli, paths, tiny_altclip)
    assert result.exit_code == 0, result.stderr
    reference = _reference_probabilities(*reference_altclip, paths, [f"a photo of {label}." for label in LABELS])
    ours = np.array([_scores(rows[str(p)]) for p in paths])
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert reference.max() - reference.min() > 0.05  # the tiny model separates labels: the check has teeth
    assert all(row["duration"] is None for row in rows.values())


def test_classify_template_override(cli, tiny_altclip, image_files, reference_altclip):
    paths = [image_files["rgb.png"], image_files["cmyk.tiff"]]
    result, rows = _classify_json(cli, paths, tiny_altclip, "--template", "Bild: {}")
    assert result.exit_code == 0, result.stderr
    from clapcli.media.image import load_image

    model, processor = reference_altclip
    inputs = processor(text=[f"Bild: {label}" for label in LABELS], images=[load_image(p) for p in paths],
                       padding=True, return_tensors="pt")
    with torch.inference_mode():
        reference = model(**inputs).logits_per_image.softmax(dim=-1).numpy()
    np.testing.assert_allclose([_scores(rows[str(p)]) for p in paths], reference, atol=1e-5)


def test_embed_equals_image_and_text_features(cli, tiny_altclip, image_files, reference_altclip, tmp_path):
    paths = [image_files[name] for name in RGB_FILES]
    texts = ["Katze auf dem Sofa", "一只猫", "a dog in the park, running after a red ball"]
    out = tmp_path / "photos.jsonl"
    args = ["embed", *paths, "-m", tiny_altclip, "-o", out, "--device", "cpu"]
    for text in texts:
        args += ["--text", text]
    result = cli(args)
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows if r["kind"] == "text"] == texts
    ours_images = {r["path"]: np.array(r["embedding"]) for r in rows if r["kind"] == "image"}
    ours_text = np.array([r["embedding"] for r in rows if r["kind"] == "text"])

    model, processor = reference_altclip
    with torch.inference_mode():
        images = processor(images=[_reference_image(p) for p in paths], return_tensors="pt")
        image_features = model.get_image_features(**images).pooler_output
        tokens = processor(text=texts, padding=True, return_tensors="pt")
        text_features = model.get_text_features(**tokens).pooler_output
    image_features = torch.nn.functional.normalize(image_features, dim=-1).numpy()
    text_features = torch.nn.functional.normalize(text_features, dim=-1).numpy()
    np.testing.assert_allclose([ours_images[str(p)] for p in paths], image_features, atol=1e-5)
    np.testing.assert_allclose(ours_text, text_features, atol=1e-5)
    assert {r["model"] for r in rows} == {str(tiny_altclip.resolve())}


def test_embed_directory_to_parquet_reads_only_images(cli, tiny_altclip, image_files, sound_files, tmp_path):
    """A directory walk takes image extensions only (the WAV beside them is not an input)."""
    import shutil

    import pyarrow.parquet as pq

    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for name in ["rgb.jpg", "gray16.png", "animated.gif"]:
        shutil.copy(image_files[name], photos / "sub" / name)
    shutil.copy(image_files["rgba.webp"], photos / "top.webp")
    shutil.copy(sound_files["wav"], photos / "tone.wav")
    (photos / "notes.txt").write_text("not an input")
    out = tmp_path / "photos.parquet"
    result = cli(["embed", photos, "-m", tiny_altclip, "-o", out, "--device", "cpu", "--batch-size", "3"])
    assert result.exit_code == 0, result.stderr
    table = pq.read_table(out).to_pydict()
    names = [Path(p).name for p in table["path"]]
    assert names == ["top.webp", "animated.gif", "gray16.png", "rgb.jpg"]  # files first, then sub-directories
    assert set(table["kind"]) == {"image"}
    vectors = np.array(table["embedding"])
    assert vectors.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.abs(vectors[0] - vectors[2]).max() > 1e-3  # different pictures, different vectors


def test_clip_checkpoint_works_too(cli, tiny_clip, image_files):
    from transformers import CLIPModel, CLIPProcessor

    paths = [image_files[name] for name in ["rgb.png", "rgb.jpg", "rgb.bmp"]]
    result, rows = _classify_json(cli, paths, tiny_clip, "--template", "a photo of {}")
    assert result.exit_code == 0, result.stderr
    model, processor = CLIPModel.from_pretrained(tiny_clip).eval(), CLIPProcessor.from_pretrained(tiny_clip)
    reference = _reference_probabilities(model, processor, paths, [f"a photo of {label}" for label in LABELS])
    np.testing.assert_allclose([_scores(rows[str(p)]) for p in paths], reference, atol=1e-5)


def test_audio_given_to_image_model_fails_per_file(cli, tiny_altclip, image_files, sound_files, broken_images):
    inputs = [image_files["rgb.png"], sound_files["wav"], broken_images["truncated.jpg"], image_files["la.png"]]
    result, rows = _classify_json(cli, inputs, tiny_altclip)
    assert result.exit_code == 3
    assert "is audio, but" in rows[str(sound_files["wav"])]["error"]
    assert f"'{Path(tiny_altclip).resolve()}' is an image model" in rows[str(sound_files["wav"])]["error"]
    assert "is damaged or truncated" in rows[str(broken_images["truncated.jpg"])]["error"]
    for good in (image_files["rgb.png"], image_files["la.png"]):
        assert abs(sum(p["score"] for p in rows[str(good)]["predictions"]) - 1.0) < 1e-5
    assert f"failed: {sound_files['wav']}: is audio, but" in result.stderr
    assert "2 inputs classified, 2 failed" in result.stderr


def test_image_given_to_audio_model_fails_per_file(cli, tiny_clap, image_files, sound_files):
    inputs = [sound_files["wav"], image_files["rgb.jpg"], sound_files["flac"]]
    result = cli(["classify", *inputs, "--labels", "dog,rain", "-m", tiny_clap, "--format", "json", "--device", "cpu"])
    assert result.exit_code == 3
    rows = {row["path"]: row for row in json.loads(result.stdout)}
    assert "is an image, but" in rows[str(image_files["rgb.jpg"])]["error"]
    assert len(rows[str(sound_files["flac"])]["predictions"]) == 2
    assert "predictions" in rows[str(sound_files["wav"])]


def test_default_template_alias_and_options(cli, loaded_altclip, tiny_altclip, image_files):
    from clapcli.models import registry
    from clapcli.models.hub import resolve_ref

    assert loaded_altclip.default_template == "a photo of {}."
    assert (loaded_altclip.modality, loaded_altclip.embedding_dim) == ("image", 16)
    assert loaded_altclip.logit_scale == pytest.approx(np.exp(4.6), rel=1e-5)
    assert resolve_ref("altclip", registry.EMBEDDING_ALIASES).location == "BAAI/AltCLIP"
    result = cli(["embed", image_files["rgb.png"], "-m", tiny_altclip, "--long-audio", "head"])
    assert result.exit_code == 2 and "applies to audio models" in result.stderr


def test_long_text_is_truncated_to_the_text_tower(loaded_altclip):
    vectors = loaded_altclip.encode_text(["ein Hund " * 200, "a cat"])
    assert vectors.shape == (2, 16) and torch.isfinite(vectors).all()


def test_in_memory_images_match_files(loaded_altclip, image_files):
    """The Python API takes PIL images; an RGBA one is composited on white exactly like the file."""
    from clapcli.api import classify, embed_audio

    names = ["rgba.png", "palette_transparent.png", "gray16.png"]
    from_files = embed_audio(loaded_altclip, [image_files[n] for n in names])
    in_memory = embed_audio(loaded_altclip, [Image.open(image_files[n]) for n in names])
    assert [e.kind for e in in_memory] == ["image"] * 3
    np.testing.assert_allclose([e.vector for e in in_memory], [e.vector for e in from_files], atol=1e-6)
    (result,) = classify(loaded_altclip, [Image.open(image_files["rgb.png"])], LABELS)
    assert abs(sum(p.score for p in result.predictions) - 1.0) < 1e-5
