"""What a manifest may say: every file it names is a plain name inside its export directory (no absolute
path, no ``..``, no symbolic link leading out), and every number is one an export could have written.

A manifest is data from disk, maybe from someone else: a crafted one must not make a run open
``/etc/shadow`` as its tokenizer, load another directory's ONNX file, score with a NaN scale (NaN
scores, exit 0) or cut audio into one-sample windows (a run for ages). Each check fails in one line
naming the manifest file and the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from clapcli.audio.features import MelSpec
from clapcli.errors import ModelLoadError
from clapcli.text import printable

AGAIN = "export again with 'clap export MODEL DIR --overwrite'"
STEM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")  # a tower's file stem: no separator, no leading dot
RATES = (1000, 768_000)  # samples per second
WINDOW_SECONDS = (1, 600)  # CLAP models use 5-10 s; one-sample windows would run for ages
MEL_FIELDS = {f.name for f in fields(MelSpec)}


class Checker:
    """Checks one manifest's values, naming ``path`` (the manifest file) in every refusal."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def refuse(self, field: str, value: Any, problem: str) -> ModelLoadError:
        shown = printable(repr(value))
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return ModelLoadError(f"{self.path}: field {field} = {shown} {problem}; {AGAIN}")

    def integer(self, field: str, value: Any, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.refuse(field, value, f"is not a whole number from {low} to {high}")
        return value

    def number(self, field: str, value: Any, low: float, high: float, low_open: bool = False) -> float:
        real = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not real or not (low < value if low_open else low <= value) or value > high:
            bound = "above" if low_open else "from"
            raise self.refuse(field, value, f"is not a finite number {bound} {low} up to {high}")
        return float(value)

    def choice(self, field: str, value: Any, allowed: tuple[Any, ...]) -> None:
        if value not in allowed:
            raise self.refuse(field, value, f"is not one of {', '.join(map(str, allowed))}")

    def mapping(self, field: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.refuse(field, value, "is not a JSON object")
        return value


def check_values(manifest: Any, path: Path) -> None:
    """Refuse a manifest whose numbers or settings no export writes (before any runtime sees them)."""
    check = Checker(path)
    check.integer("embedding_dim", manifest.embedding_dim, 1, 65536)
    if manifest.family == "pe-audio":  # the scale as stored, used as it is (not exponentiated): any sign
        check.number("logit_scale", manifest.logit_scale, -1000, 1000)
    else:
        check.number("logit_scale", manifest.logit_scale, 0, 1000, low_open=True)  # exp(scale), CLIP clamps at 100
    check.number("logit_bias", manifest.logit_bias, -1000, 1000)
    _check_text(check, check.mapping("text", manifest.text))
    if manifest.family == "pe-audio":
        _check_pe_audio(check, check.mapping("audio", manifest.audio))
    elif manifest.media_tower == "audio":
        _check_audio(check, check.mapping("audio", manifest.audio))
    else:
        _check_image(check, check.mapping("image", manifest.image))


def _check_text(check: Checker, text: dict[str, Any]) -> None:
    if text.get("max_length") is not None:
        check.integer("text.max_length", text["max_length"], 1, 100_000)
    check.integer("text.pad_id", text.get("pad_id"), 0, 10**7)
    for key in ("pad_token", "tokenizer"):
        if not isinstance(text.get(key), str):
            raise check.refuse(f"text.{key}", text.get(key), "is not a string")
    if not isinstance(text.get("suffix", ""), str):
        raise check.refuse("text.suffix", text.get("suffix"), "is not a string")


def _check_audio(check: Checker, audio: dict[str, Any]) -> None:
    rate = check.integer("audio.sample_rate", audio.get("sample_rate"), *RATES)
    check.integer("audio.window_samples", audio.get("window_samples"), WINDOW_SECONDS[0] * rate,
                  WINDOW_SECONDS[1] * rate)
    check.choice("audio.fit", audio.get("fit"), ("repeat-pad", "repeat"))
    mel = check.mapping("audio.mel", audio.get("mel"))
    unknown = sorted(set(mel) - MEL_FIELDS) or sorted(MEL_FIELDS - set(mel) - {"filterbank_rate"})
    if unknown:
        raise check.refuse(f"audio.mel.{unknown[0]}", mel.get(unknown[0]), "is not a log-mel setting this clapcli "
                           "knows, or is missing")
    check.integer("audio.mel.sample_rate", mel["sample_rate"], *RATES)
    n_fft = check.integer("audio.mel.n_fft", mel["n_fft"], 16, 65536)
    check.integer("audio.mel.hop_length", mel["hop_length"], 16, n_fft)
    check.integer("audio.mel.n_mels", mel["n_mels"], 1, 1024)
    f_min = check.number("audio.mel.f_min", mel["f_min"], 0, RATES[1])
    check.number("audio.mel.f_max", mel["f_max"], f_min, RATES[1], low_open=True)
    check.choice("audio.mel.scale", mel["scale"], ("slaney", "htk"))
    if mel.get("filterbank_rate") is not None:
        check.integer("audio.mel.filterbank_rate", mel["filterbank_rate"], *RATES)
    if audio.get("fused") and not (isinstance(audio.get("fusion_tower", ""), str)
                                   and STEM.fullmatch(audio.get("fusion_tower") or "audio_fusion")):
        raise check.refuse("audio.fusion_tower", audio.get("fusion_tower"), "is not a file name inside the export")


def _check_pe_audio(check: Checker, audio: dict[str, Any]) -> None:
    """Raw samples in: the rate, the frame hop and the longest window (a whole number of hops)."""
    rate = check.integer("audio.sample_rate", audio.get("sample_rate"), *RATES)
    hop = check.integer("audio.hop", audio.get("hop"), 1, rate)
    window = check.integer("audio.window_samples", audio.get("window_samples"), hop, WINDOW_SECONDS[1] * rate)
    if window % hop:
        raise check.refuse("audio.window_samples", window, f"is not a whole number of hops ({hop})")
    if not isinstance(audio.get("frame_level", False), bool):
        raise check.refuse("audio.frame_level", audio.get("frame_level"), "is not true or false")


def _check_image(check: Checker, image: dict[str, Any]) -> None:
    for group in ("size", "crop_size"):
        for key, value in check.mapping(f"image.{group}", image.get(group) or {}).items():
            check.integer(f"image.{group}.{key}", value, 1, 8192)
    if image.get("rescale_factor") is not None:
        check.number("image.rescale_factor", image["rescale_factor"], 0, 1, low_open=True)
    for key in ("image_mean", "image_std"):
        values = image.get(key)
        if values is None:
            continue
        if not isinstance(values, list) or len(values) != 3:
            raise check.refuse(f"image.{key}", values, "is not a list of three numbers")
        for value in values:
            check.number(f"image.{key}", value, -10 if key == "image_mean" else 0, 10, low_open=key == "image_std")


def check_files(directory: Path, path: Path, named: list[tuple[str, str]]) -> None:
    """Every file the manifest names ((field, file name) pairs) is a plain name inside ``directory``, and no
    symbolic link leads out of it. Missing files are the caller's message."""
    check = Checker(path)
    home = directory.resolve()
    for field, name in named:
        plain = Path(name).name == name and name not in ("", ".", "..") and "\\" not in name
        if not plain:
            raise check.refuse(field, name, "is not a file name inside the export")
        real = (directory / name).resolve()
        if (directory / name).exists() and home not in real.parents:
            raise check.refuse(field, name, f"leads out of the export (to '{real}')")
