"""``clap embed photos/ --db`` then ``clap retrieve "..." --db``: image collections searched by multilingual text."""

from __future__ import annotations

import json
import shutil

import numpy as np
import torch

from clapcli.media.image import load_image

NAMES = ["rgb.jpg", "rgb.png", "cmyk.tiff", "palette.png", "animated.gif"]


def test_embed_to_db_then_retrieve_by_text_and_by_image(cli, tiny_altclip, image_files, reference_altclip, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in NAMES:
        shutil.copy(image_files[name], photos / name)
    db = tmp_path / "photos.db"
    result = cli(["embed", photos, "-m", tiny_altclip, "--db", db, "--device", "cpu"])
    assert result.exit_code == 0, result.stderr

    query = "Katze auf dem Sofa"
    result = cli(["retrieve", query, "--db", db, "-k", "5", "--format", "json", "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    hits = json.loads(result.stdout)

    model, processor = reference_altclip
    paths = sorted(photos.iterdir())
    with torch.inference_mode():
        images = model.get_image_features(**processor(images=[load_image(p) for p in paths], return_tensors="pt"))
        text = model.get_text_features(**processor(text=[query], return_tensors="pt"))
    cosines = (torch.nn.functional.normalize(images.pooler_output, dim=-1)
               @ torch.nn.functional.normalize(text.pooler_output, dim=-1).T)[:, 0].numpy()
    order = np.argsort(-cosines, kind="stable")
    assert [h["path"] for h in hits] == [str(paths[i].resolve()) for i in order]
    np.testing.assert_allclose([h["score"] for h in hits], cosines[order], atol=1e-5)

    result = cli(["retrieve", photos / "rgb.png", "--db", db, "-k", "1", "--format", "json", "--device", "cpu",
                  "--include-self"])  # by example: the query image itself is left out unless asked for
    assert result.exit_code == 0, result.stderr
    (best,) = json.loads(result.stdout)
    assert best["path"] == str((photos / "rgb.png").resolve()) and abs(best["score"] - 1.0) < 1e-5
