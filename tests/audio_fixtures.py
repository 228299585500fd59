"""Synthesized audio in every supported format, rate and channel layout, plus broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 1, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = amplitude * np.sin(2 * np.pi * freq * t)
    if channels == 1:
        return mono.astype(np.float32)
    return np.stack([mono * (1 - 0.2 * c) for c in range(channels)], axis=1).astype(np.float32)


def noise(seconds: float, rate: int, seed: int = 0, amplitude: float = 0.3) -> np.ndarray:
    return (amplitude * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


def speechlike(seconds: float, rate: int, seed: int = 1) -> np.ndarray:
    """A crude voiced signal: harmonics of a gliding pitch under a syllable-rate envelope."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    rng = np.random.default_rng(seed)
    return (0.2 * voiced * envelope + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def write_soundfile(path: Path, samples: np.ndarray, rate: int, subtype: str | None = None,
                    fmt: str | None = None) -> Path:
    import soundfile as sf

    sf.write(str(path), samples, rate, subtype=subtype, format=fmt)
    return path


def write_m4a(path: Path, samples: np.ndarray, rate: int) -> Path:
    """AAC in an MP4 container via PyAV (bundles FFmpeg; no system ffmpeg needed)."""
    import av

    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        frame_size = 1024
        for start in range(0, len(mono), frame_size):
            chunk = mono[start : start + frame_size][None].astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def build_audio_set(directory: Path) -> dict[str, Path]:
    """Good files of every kind (name -> path)."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for subtype in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"):
        files[f"wav_{subtype.lower()}"] = write_soundfile(
            directory / f"tone_{subtype.lower()}.wav", tone(1.0, 16000), 16000, subtype)
    files["wav_stereo_44k"] = write_soundfile(directory / "stereo_44k.wav", tone(2.0, 44100, channels=2), 44100)
    files["wav_6ch_48k"] = write_soundfile(directory / "surround_48k.wav", tone(1.0, 48000, channels=6), 48000)
    files["wav_8k"] = write_soundfile(directory / "phone_8k.wav", speechlike(1.5, 8000), 8000)
    files["flac"] = write_soundfile(directory / "noise.flac", noise(1.0, 22050), 22050)
    files["ogg"] = write_soundfile(directory / "tone.ogg", tone(1.0, 44100), 44100, "VORBIS", "OGG")
    files["opus"] = write_soundfile(directory / "speech.opus", speechlike(1.0, 48000), 48000, "OPUS", "OGG")
    files["mp3"] = write_soundfile(directory / "tone.mp3", tone(1.0, 44100), 44100, "MPEG_LAYER_III", "MP3")
    files["m4a"] = write_m4a(directory / "tone.m4a", tone(1.0, 44100), 44100)
    return files


def build_broken_set(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    good = write_soundfile(directory / "_good.wav", tone(1.0, 16000), 16000)
    data = good.read_bytes()
    good.unlink()
    files = {
        "empty": directory / "empty.wav",
        "truncated": directory / "truncated.wav",
        "not_audio": directory / "notes.wav",
        "header_only": directory / "header_only.wav",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(data[:30])
    files["not_audio"].write_text("this is not audio\n" * 20)
    files["header_only"].write_bytes(data[:44])
    files["nan"] = write_soundfile(directory / "nan.wav", np.array([0.1, np.nan, 0.2] * 100, np.float32), 16000,
                                   "FLOAT")
    return files
