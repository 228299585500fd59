"""Synthesized dataset pieces shared by the eval tests (a module of its own, not conftest.py: test
modules import them by name, and a module called 'conftest' exists in several test folders)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from audio_fixtures import noise, tone, write_soundfile

RATE = 16000
SECONDS = 0.4


def clip(kind: int, seed: int) -> np.ndarray:
    """Class-dependent synthetic audio: a tone per class plus a little seeded noise."""
    return (tone(SECONDS, RATE, freq=220.0 * (kind + 1), amplitude=0.4) + noise(SECONDS, RATE, seed, 0.05)
            ).astype(np.float32)


def write_clip(path: Path, kind: int, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_soundfile(path, clip(kind, seed), RATE)


def write_csv(path: Path, header: list[str], rows: list[list], delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


ESC_CLASSES = ["dog", "chirping_birds", "vacuum_cleaner"]  # target 0, 1, 2
US8K_CLASSES = ["air_conditioner", "car_horn", "dog_bark"]
