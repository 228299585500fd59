"""Image fixtures in every format and mode ``load_image`` supports, plus broken files.

Each good image has a known content so tests can check the RGB pixels ``load_image`` returns:
``EXPECTED[name]`` maps a name to (size, {(x, y): rgb}) probes, exact unless the format is lossy.
"""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)
LOSSY = {"rgb.jpg", "gray.jpg", "cmyk.jpg", "exif_rotated.jpg", "rgb.webp"}


def halves(size: tuple[int, int], left: tuple, right: tuple, mode: str = "RGB") -> Image.Image:
    """Left half one color, right half another."""
    image = Image.new(mode, size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def pattern(seed: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """A smooth random RGB picture (survives lossy codecs; distinct per seed)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BILINEAR)


def build_image_set(directory: Path) -> dict[str, Path]:
    """Good images: name -> path (see ``EXPECTED`` for their content)."""
    directory.mkdir(parents=True, exist_ok=True)
    images: dict[str, tuple[Image.Image, dict]] = {
        "rgb.jpg": (pattern(1), {"quality": 95}),
        "rgb.png": (pattern(2), {}),
        "rgb.webp": (pattern(3), {"quality": 95}),
        "rgb.tiff": (pattern(4), {}),
        "rgb.bmp": (pattern(5), {}),
        "gray.jpg": (halves((40, 20), 0, 255, "L"), {"quality": 95}),
        "gray.png": (halves((40, 20), 0, 255, "L"), {}),
        "gray16.png": (halves((40, 20), 0, 65535, "I;16"), {}),
        "gray16.tiff": (halves((40, 20), 32896, 65535, "I;16"), {}),
        "bilevel.png": (halves((40, 20), 0, 1, "1"), {}),
        "cmyk.jpg": (halves((40, 20), (0, 255, 255, 0), (255, 255, 0, 0), "CMYK"), {"quality": 95}),
        "cmyk.tiff": (halves((40, 20), (0, 255, 255, 0), (255, 255, 0, 0), "CMYK"), {}),
        "rgba.png": (halves((40, 20), (255, 0, 0, 255), (0, 0, 255, 0), "RGBA"), {}),
        "rgba.webp": (halves((40, 20), (255, 0, 0, 255), (0, 0, 255, 0), "RGBA"), {"lossless": True}),
        "la.png": (halves((40, 20), (0, 255), (0, 0), "LA"), {}),
        "palette.png": (halves((40, 20), RED, GREEN).convert("P"), {}),
        "palette_transparent.png": (_transparent_palette(), {"transparency": 1}),
    }
    paths = {}
    for name, (image, options) in images.items():
        paths[name] = directory / name
        image.save(paths[name], **options)
    paths["exif_rotated.jpg"] = _exif_rotated(directory / "exif_rotated.jpg")
    paths["animated.gif"] = _animated_gif(directory / "animated.gif")
    paths["multipage.tiff"] = _multipage_tiff(directory / "multipage.tiff")
    return paths


# name -> (size after loading, {(x, y): expected RGB})
EXPECTED: dict[str, tuple[tuple[int, int], dict[tuple[int, int], tuple[int, int, int]]]] = {
    "gray.jpg": ((40, 20), {(5, 10): BLACK, (35, 10): WHITE}),
    "gray.png": ((40, 20), {(5, 10): BLACK, (35, 10): WHITE}),
    "gray16.png": ((40, 20), {(5, 10): BLACK, (35, 10): WHITE}),
    "gray16.tiff": ((40, 20), {(5, 10): (128, 128, 128), (35, 10): WHITE}),
    "bilevel.png": ((40, 20), {(5, 10): BLACK, (35, 10): WHITE}),
    "cmyk.jpg": ((40, 20), {(5, 10): RED, (35, 10): BLUE}),
    "cmyk.tiff": ((40, 20), {(5, 10): RED, (35, 10): BLUE}),
    "rgba.png": ((40, 20), {(5, 10): RED, (35, 10): WHITE}),  # transparent -> white
    "rgba.webp": ((40, 20), {(5, 10): RED, (35, 10): WHITE}),
    "la.png": ((40, 20), {(5, 10): BLACK, (35, 10): WHITE}),  # opaque black left, transparent right
    "palette.png": ((40, 20), {(5, 10): RED, (35, 10): GREEN}),
    "palette_transparent.png": ((40, 20), {(5, 10): RED, (35, 10): WHITE}),
    "exif_rotated.jpg": ((20, 40), {(10, 5): RED, (10, 35): BLUE}),  # orientation 6: left half -> top
    "animated.gif": ((40, 20), {(5, 10): RED, (35, 10): RED}),  # first frame only
    "multipage.tiff": ((40, 20), {(5, 10): GREEN, (35, 10): GREEN}),  # first page only
}


def _transparent_palette() -> Image.Image:
    image = Image.new("P", (40, 20), 0)
    image.putpalette([*RED, *BLUE] + [0] * 762)
    image.paste(1, (20, 0, 40, 20))
    return image


def _exif_rotated(path: Path) -> Path:
    """Stored 40x20 (red left, blue right) with orientation 6: viewers rotate it 90 degrees clockwise."""
    image = halves((40, 20), RED, BLUE)
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, quality=95, exif=exif.tobytes())
    return path


def _animated_gif(path: Path) -> Path:
    frames = [Image.new("RGB", (40, 20), color) for color in (RED, GREEN, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def _multipage_tiff(path: Path) -> Path:
    pages = [Image.new("RGB", (40, 20), color) for color in (GREEN, BLUE)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


def build_broken_images(directory: Path, wav: Path, flac: Path) -> dict[str, Path]:
    """Broken inputs: name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    good = BytesIO()
    pattern(9, (64, 64)).save(good, format="JPEG", quality=95)
    png = BytesIO()
    pattern(9, (64, 64)).save(png, format="PNG")
    files = {
        "truncated.jpg": good.getvalue()[: len(good.getvalue()) // 2],
        "truncated.png": png.getvalue()[: len(png.getvalue()) // 2],
        "empty.png": b"",
        "text.jpg": b"this is not an image at all\n" * 10,
        "bomb.png": _bomb_png(30000, 30000),  # past Pillow's hard limit (2x its warning threshold)
        "large.png": _bomb_png(10000, 10000),  # between Pillow's warning and hard limits
        "audio_named.png": wav.read_bytes(),  # audio files with an image extension
        "flac_named.jpg": flac.read_bytes(),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = directory / name
        paths[name].write_bytes(data)
    return paths


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG header declaring 900 Mpx with a tiny (invalid) body: never decode it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b"")


def write_wav(path: Path, seconds: float = 1.0, rate: int = 48000) -> Path:
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    return path
