"""Fixtures for the store / search / retrieve tests (no model needed unless a test asks for one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("writer_child.py")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "library.db"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def spawn_writer(db: Path, *args: str) -> subprocess.Popen:
    """A separate Python process writing to ``db`` with ``writer_child.py`` (see there)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(db), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
