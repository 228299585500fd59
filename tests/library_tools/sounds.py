"""Synthetic recordings for the library-tool tests: melodies Chromaprint can tell apart (a tone or noise
alone gives alike or empty fingerprints), copies re-encoded as a library keeps them, and a tree hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 22050


def melody(seed: int, seconds: float = 6.0, rate: int = RATE) -> np.ndarray:
    """Quarter-second notes at pitches drawn from three octaves, with a harmonic."""
    rng = np.random.default_rng(seed)
    note = np.arange(int(rate * 0.25)) / rate
    parts = []
    for freq in 110 * 2 ** (rng.integers(0, 36, int(seconds * 4)) / 12):
        parts.append((0.3 * np.sin(2 * np.pi * freq * note) + 0.1 * np.sin(4 * np.pi * freq * note))
                     * np.hanning(len(note)))
    return np.concatenate(parts).astype(np.float32)


def write(path: Path, samples: np.ndarray, rate: int = RATE, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, rate, subtype=subtype)
    return path


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    """path -> (sha256, mtime_ns) of every file under ``root``."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                                  path.stat().st_mtime_ns)
    return found
