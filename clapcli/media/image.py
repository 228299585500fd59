"""Read any image file into an RGB ``PIL.Image`` for image-text models.

JPEG, PNG, WebP, GIF (first frame), TIFF (first page) and BMP through Pillow. EXIF orientation
is applied; transparency is composited on white (what a viewer shows); every other mode becomes
RGB. Each failure is an ``InputError`` with one line that names the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from clapcli.errors import InputError
from clapcli.media.kinds import AUDIO_EXTENSIONS
from clapcli.text import first_line

# Pillow's own decompression-bomb threshold (~89 Mpx); checked on the header, before decoding.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
# Pillow warns on open between that threshold and twice it; we reject those files ourselves (one line,
# per file), so its warning would only clutter stderr. A filter, because catch_warnings is not thread-safe.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Leading bytes of audio containers, to say "is audio" rather than "not an image".
AUDIO_MAGIC = (
    b"fLaC", b"OggS", b"ID3", b"FORM", b".snd",
    b"\xff\xfb", b"\xff\xfa", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1",  # MPEG audio / ADTS frame sync
)


def load_image(path: str | Path, model_name: str | None = None) -> Image.Image:
    """The image at ``path`` as a fully decoded RGB image; ``model_name`` only words the wrong-kind error."""
    path = Path(path)
    if path.suffix.lower() in AUDIO_EXTENSIONS:
        raise _audio_error(path, model_name)
    image = _decode(path, model_name)
    try:
        return to_rgb(image)
    except ValueError as exc:  # a mode Pillow cannot convert (e.g. LAB)
        raise InputError(f"{path}: its color mode {image.mode} cannot be converted to RGB ({exc})") from None


def _decode(path: Path, model_name: str | None) -> Image.Image:
    """The first frame, fully loaded and EXIF-oriented; every failure becomes one ``InputError`` line."""
    try:
        with Image.open(path) as image:
            _check_size(image, path)
            image.seek(0)  # GIF / WebP / TIFF: the first frame or page
            image.load()
            return ImageOps.exif_transpose(image)  # a copy, so closing the file is safe
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not an image") from None
    except UnidentifiedImageError:
        if _looks_like_audio(path):
            raise _audio_error(path, model_name) from None
        raise InputError(f"{path}: is not an image Pillow can read (JPEG, PNG, WebP, GIF, TIFF, BMP)") from None
    except Image.DecompressionBombError:
        raise InputError(f"{path}: too many pixels (decompression bomb?); resize it below {MAX_PIXELS}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated or corrupt data
        raise InputError(f"{path}: is damaged or truncated ({first_line(exc)}); re-export the image") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB for every Pillow mode: alpha over white, 16-bit and float scaled to 8 bits, CMYK/P/L converted."""
    if image.mode == "RGB":
        return image
    if image.mode in ("P", "PA") or (image.mode in ("1", "L", "RGB") and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":
        return _wide_to_rgb(image)
    return image.convert("RGB")


def _wide_to_rgb(image: Image.Image) -> Image.Image:
    """16/32-bit integer and float gray: Pillow's own convert clips at 255, so scale first."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        scaled = values * 255.0 if values.size and values.max() <= 1.0 else values
    else:
        scaled = values / 257.0 if values.size and values.max() > 255 else values
    gray = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
    return gray.convert("RGB")


def _check_size(image: Image.Image, path: Path) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputError(
            f"{path}: {width}x{height} is too many pixels (decompression bomb?); resize it below {MAX_PIXELS} pixels"
        )
    if width == 0 or height == 0:
        raise InputError(f"{path}: the image is empty ({width}x{height})")


def _looks_like_audio(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    wave = head.startswith(b"RIFF") and head[8:12] == b"WAVE"  # RIFF alone could be WebP
    return wave or head.startswith(AUDIO_MAGIC) or head[4:8] == b"ftyp"


def _audio_error(path: Path, model_name: str | None) -> InputError:
    model = f"'{model_name}'" if model_name else "the model"
    return InputError(f"{path}: is audio, but {model} is an image model; use an audio model (e.g. --model unfused)")


