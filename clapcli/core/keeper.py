"""Which file of a group of duplicates to keep: lossless over lossy, then the higher sample rate, then the
higher bit depth, then the longer file (then the shorter path, so the choice is stable). Read from the
file's header (soundfile); a file soundfile cannot open is judged by its extension."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOSSLESS_FORMATS = {"WAV", "WAVEX", "FLAC", "AIFF", "AU", "CAF", "W64", "RF64", "WVE", "SD2", "IRCAM", "NIST"}
LOSSY_SUBTYPES = {"VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III", "ULAW", "ALAW",
                  "IMA_ADPCM", "MS_ADPCM", "GSM610", "G721_32", "G723_24", "G723_40", "VOX_ADPCM"}
LOSSLESS_EXTENSIONS = {".wav", ".flac", ".aif", ".aiff", ".au", ".caf", ".w64", ".rf64", ".wv", ".ape", ".alac"}
BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64,
        "ALAC_16": 16, "ALAC_20": 20, "ALAC_24": 24, "ALAC_32": 32}


@dataclass(frozen=True)
class FileQuality:
    format: str  # e.g. "FLAC PCM_24", "OGG VORBIS", ".m4a"
    lossless: bool
    rate: int | None
    bits: int | None
    duration: float | None


def quality_of(path: str, duration: float | None = None) -> FileQuality:
    """The header's format, rate and bit depth (the stored duration when given, else the header's)."""
    import soundfile

    try:
        info = soundfile.info(path)
    except Exception:  # not readable by libsndfile (m4a, gone, damaged): judge by the extension
        suffix = Path(path).suffix.lower()
        return FileQuality(suffix or "unknown", suffix in LOSSLESS_EXTENSIONS, None, None, duration)
    lossless = info.format in LOSSLESS_FORMATS and info.subtype not in LOSSY_SUBTYPES
    return FileQuality(f"{info.format} {info.subtype}", lossless, int(info.samplerate), BITS.get(info.subtype),
                       duration if duration is not None else float(info.duration))


def _rank(quality: FileQuality, path: str) -> tuple:
    return (quality.lossless, quality.rate or 0, quality.bits or 0, quality.duration or 0.0, -len(path))


def choose_keeper(files: dict[str, FileQuality]) -> tuple[str, dict[str, str]]:
    """The path to keep and, for every path, why it is kept or not (compared with the kept one)."""
    kept = max(sorted(files), key=lambda path: _rank(files[path], path))
    best = files[kept]
    reasons = {path: _why_not(files[path], best) for path in files if path != kept}
    beaten = [reason for reason in reasons.values() if not reason.startswith("same")]
    reasons[kept] = "keep: " + (beaten[0].removeprefix("lower: ") if beaten else
                                "same format, rate, depth and length as the others; first by path")
    return kept, reasons


def _why_not(quality: FileQuality, best: FileQuality) -> str:
    if best.lossless and not quality.lossless:
        return f"lower: lossless ({best.format}) over lossy ({quality.format})"
    if (best.rate or 0) > (quality.rate or 0):
        return f"lower: {best.rate} Hz over {quality.rate or '?'} Hz"
    if (best.bits or 0) > (quality.bits or 0):
        return f"lower: {best.bits}-bit over {quality.bits or '?'}-bit"
    if (best.duration or 0.0) > (quality.duration or 0.0) + 1e-6:
        return f"lower: longer ({best.duration:.2f} s over {quality.duration or 0.0:.2f} s)"
    return "same quality as the kept file; it comes first by path"
