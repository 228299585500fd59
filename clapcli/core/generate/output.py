"""Generated audio to files: optional resampling, a peak limit (never clipping), atomic WAV/FLAC/OGG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from clapcli.errors import UsageError

AUDIO_FORMATS = ("wav", "flac", "ogg")
_SF_FORMAT = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}
_SUBTYPE = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}
# Headroom below full scale: 16-bit rounding and Vorbis decoding overshoot cannot reach 1.0.
PEAK_LIMIT = 0.99


def audio_format(path: Path | None, explicit: str | None) -> str:
    """``--audio-format`` wins, then the file's extension, then WAV."""
    if explicit:
        fmt = explicit.lower().lstrip(".")
    elif path is not None and path.suffix:
        fmt = path.suffix.lower().lstrip(".")
        if fmt == "oga":
            fmt = "ogg"
    else:
        fmt = "wav"
    if fmt not in AUDIO_FORMATS:
        raise UsageError(f"audio format '{fmt}' is not supported; use one of {', '.join(AUDIO_FORMATS)}")
    return fmt


def prepare_samples(samples: np.ndarray, rate: int, target_rate: int | None) -> tuple[np.ndarray, int, float]:
    """Resample (soxr) if asked, then scale down only if the peak exceeds ``PEAK_LIMIT``.

    ``samples``: (n,) mono or (n, channels). Returns the samples, their rate and the gain applied (1.0
    when untouched); one gain for all channels, so the stereo image stays as generated."""
    audio = np.asarray(samples, dtype=np.float64)
    audio = audio.reshape(-1) if audio.ndim < 2 or audio.shape[1] == 1 else audio
    if target_rate and target_rate != rate:
        import soxr

        audio = soxr.resample(audio, rate, target_rate, quality="VHQ")
        rate = target_rate
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    gain = PEAK_LIMIT / peak if peak > PEAK_LIMIT else 1.0
    return (audio * gain).astype(np.float32), rate, gain


def write_audio_file(path: Path, samples: np.ndarray, rate: int, fmt: str, tags: dict | None = None,
                     overwrite: bool = False) -> None:
    """Write (n,) mono or (n, channels) audio atomically (temp file beside ``path``, published when
    complete; an existing file is replaced only with ``overwrite``)."""
    import soundfile as sf

    from clapcli.io.target import OutputFile

    handle = OutputFile(path, overwrite, binary=True, label="output")
    try:
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        with sf.SoundFile(handle.handle, "w", samplerate=rate, channels=channels, format=_SF_FORMAT[fmt],
                          subtype=_SUBTYPE[fmt]) as sound:
            for key, value in (tags or {}).items():
                setattr(sound, key, value)  # before any frame: WAV's INFO chunk is written up front
            sound.write(samples)
    except OSError as exc:
        raise handle.write_failed(exc) from None
    except BaseException:  # including Ctrl-C: never leave half a file behind
        handle.discard()
        raise
    handle.commit()


def file_tags(metadata: dict) -> dict:
    """Tags soundfile can store in WAV (INFO), FLAC and OGG (Vorbis comments)."""
    from clapcli.version import __version__

    rest = {k: v for k, v in metadata.items() if k not in ("prompt", "path")}
    return {"title": metadata.get("prompt", ""), "comment": json.dumps(rest, ensure_ascii=False),
            "software": f"clapcli {__version__}"}
