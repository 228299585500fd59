"""``load_image``: every format and mode becomes the RGB picture a viewer shows; broken files fail in one line."""

from __future__ import annotations

import numpy as np
import pytest
from image_fixtures import EXPECTED, LOSSY, pattern
from PIL import Image
from torch_calls import torch_calls_in

from clapcli.errors import InputError
from clapcli.media.image import load_image, to_rgb
from clapcli.models.loading import load_embedding_model


def _close(actual: tuple, expected: tuple, lossy: bool) -> bool:
    return max(abs(a - e) for a, e in zip(actual, expected)) <= (6 if lossy else 0)


def test_every_format_and_mode_loads_as_rgb(image_files):
    assert len(image_files) == 20
    for name, path in image_files.items():
        image = load_image(path)
        assert image.mode == "RGB", name
        size, probes = EXPECTED.get(name, ((48, 40), {}))
        assert image.size == size, name
        for xy, rgb in probes.items():
            assert _close(image.getpixel(xy), rgb, name in LOSSY), (name, xy, image.getpixel(xy), rgb)


def test_lossless_rgb_files_keep_their_pixels(image_files):
    for name, seed in {"rgb.png": 2, "rgb.tiff": 4, "rgb.bmp": 5}.items():
        assert np.array_equal(np.asarray(load_image(image_files[name])), np.asarray(pattern(seed))), name
    lossy = np.asarray(load_image(image_files["rgb.jpg"]), dtype=np.int16) - np.asarray(pattern(1), dtype=np.int16)
    assert np.abs(lossy).mean() < 3


def test_source_modes_are_the_ones_claimed(image_files):
    """Guard the fixtures themselves: each file really has the mode the conversion test is about."""
    modes = {name: Image.open(path).mode for name, path in image_files.items()}
    assert modes["gray16.png"].startswith("I") and modes["gray16.tiff"].startswith("I")
    assert (modes["cmyk.jpg"], modes["cmyk.tiff"], modes["bilevel.png"]) == ("CMYK", "CMYK", "1")
    assert (modes["rgba.png"], modes["la.png"], modes["palette.png"], modes["animated.gif"]) == ("RGBA", "LA", "P", "P")
    assert Image.open(image_files["animated.gif"]).n_frames == 3
    assert Image.open(image_files["multipage.tiff"]).n_frames == 2
    assert Image.open(image_files["exif_rotated.jpg"]).size == (40, 20)


@pytest.mark.parametrize(("mode", "values", "expected"), [
    ("I", [0, 65535], [0, 255]),
    ("I", [0, 200], [0, 200]),  # 8-bit range stored in a 32-bit image stays as is
    ("F", [0.0, 1.0], [0, 255]),
    ("F", [0.0, 128.0], [0, 128]),
])
def test_wide_gray_modes_are_scaled_not_clipped(mode, values, expected):
    array = np.array([values], dtype=np.float32 if mode == "F" else np.int32)
    image = to_rgb(Image.fromarray(array, mode=mode) if mode == "I" else Image.fromarray(array))
    assert image.mode == "RGB"
    assert [image.getpixel((x, 0)) for x in range(2)] == [(v, v, v) for v in expected]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # pytest resets our module filter
def test_broken_images_fail_with_one_line_naming_the_file(broken_images):
    reasons = {
        "truncated.jpg": "is damaged or truncated", "truncated.png": "is damaged or truncated",
        "empty.png": "is not an image", "text.jpg": "is not an image",
        "bomb.png": "decompression bomb", "large.png": "10000x10000 is too many pixels",
        "audio_named.png": "is audio, but the model is an image model",
        "flac_named.jpg": "is audio, but the model is an image model",
    }
    assert set(reasons) == set(broken_images)
    for name, path in broken_images.items():
        with pytest.raises(InputError) as caught:
            load_image(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and reasons[name] in message, message
        assert "\n" not in message


def test_audio_file_names_the_model(sound_files, tmp_path):
    for path in sound_files.values():
        with pytest.raises(InputError, match=r"is audio, but 'BAAI/AltCLIP' is an image model"):
            load_image(path, "BAAI/AltCLIP")
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(InputError, match="is a directory"):
        load_image(tmp_path)


def test_prepare_is_numpy_only(tiny_altclip) -> None:
    """``prepare`` runs in decode threads: numpy out, no torch ops (EmbeddingModel.prepare)."""
    model = load_embedding_model(str(tiny_altclip), device="cpu")
    calls, item = torch_calls_in(model.prepare, pattern(1))
    assert calls == []
    assert isinstance(item, np.ndarray) and item.dtype == np.float32 and item.shape[0] == 3
    assert model.encode_prepared([item, item]).shape == (2, model.embedding_dim)
