"""Shared test setup: never touch the network (docs/design.md §4)."""

from __future__ import annotations

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# clapcli's caches (exports, OpenVINO's compiled towers) go to a temp dir, not the user's home.
os.environ.setdefault("CLAPCLI_HOME", tempfile.mkdtemp(prefix="clapcli-test-home-"))

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from audio_fixtures import build_audio_set, build_broken_set  # noqa: E402
from tiny_models import build_tiny_clap  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_clapcli_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as on a fresh machine: the default runtime uses a cached export, so an export left
    by an earlier test would change which runtime a later one gets. Session fixtures keep the session's home."""
    home = tmp_path_factory.mktemp("clapcli-home")
    monkeypatch.setenv("CLAPCLI_HOME", str(home))
    monkeypatch.setenv("CLAPCLI_CONFIG", str(home / "config.toml"))  # never the developer's own config file
    for name in ("RUNTIME", "MODEL", "DEVICE", "HUB_TIMEOUT"):
        monkeypatch.delenv(f"CLAPCLI_{name}", raising=False)


@pytest.fixture(scope="session")
def tiny_clap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random LAION CLAP checkpoint directory (unfused)."""
    return build_tiny_clap(tmp_path_factory.mktemp("models") / "tiny-clap")


@pytest.fixture(scope="session")
def tiny_clap_fused(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clap(tmp_path_factory.mktemp("models") / "tiny-clap-fused", fused=True)


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good audio in every supported format, rate and channel layout."""
    return build_audio_set(tmp_path_factory.mktemp("audio") / "good")


@pytest.fixture(scope="session")
def broken_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_broken_set(tmp_path_factory.mktemp("audio") / "broken")


@pytest.fixture(scope="session")
def loaded_clap(tiny_clap: Path):
    from clapcli.models.loading import load_embedding_model

    return load_embedding_model(str(tiny_clap), device="cpu")


@pytest.fixture()
def cli():
    """Run ``clap`` in-process: ``cli(args, input=...)`` -> result with exit_code, stdout, stderr."""
    from typer.testing import CliRunner

    from clapcli.cli import app

    runner = CliRunner()

    def run(args: list[str], input: str | None = None, env: dict | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)

    return run
