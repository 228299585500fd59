"""A small library built by ``clap embed --db`` from the tiny checkpoint, and the app over it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FILES = ("wav_pcm_16", "wav_stereo_44k", "wav_8k", "flac", "ogg", "mp3")


def embed_into(cli, folder: Path, db: Path, model: Path, collection: str = "default") -> None:
    result = cli(["embed", folder, "--db", db, "--model", model, "--collection", collection, "--quiet"])
    assert result.exit_code == 0, result.stderr


@pytest.fixture(scope="session")
def sounds(tmp_path_factory: pytest.TempPathFactory, audio_files: dict[str, Path]) -> Path:
    folder = tmp_path_factory.mktemp("serve-sounds") / "samples"
    folder.mkdir()
    for key in FILES:
        shutil.copy(audio_files[key], folder / audio_files[key].name)
    return folder


@pytest.fixture(scope="session")
def library_db(tmp_path_factory: pytest.TempPathFactory, sounds: Path, tiny_clap: Path) -> Path:
    """Two collections: 'default' (all files) and 'drums' (two of them)."""
    from typer.testing import CliRunner

    from clapcli.cli import app

    def cli(args):
        return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)

    db = tmp_path_factory.mktemp("serve-db") / "library.db"
    embed_into(cli, sounds, db, tiny_clap)
    drums = sounds.parent / "drums"
    drums.mkdir()
    for path in sorted(sounds.iterdir())[:2]:
        shutil.copy(path, drums / path.name)
    embed_into(cli, drums, db, tiny_clap, "drums")
    return db


@pytest.fixture(scope="session")
def served(library_db: Path, loaded_clap):
    """The app (batching on) over the library, the session's loaded tiny model as every model."""
    from clapcli.serve import ServeOptions, build

    app = build(ServeOptions(library_db, check_interval=0.0), loader=lambda model_id: loaded_clap)
    yield app
    app.fastapi.state.engine.close()


@pytest.fixture(scope="session")
def client(served):
    from fastapi.testclient import TestClient

    with TestClient(served, base_url="http://127.0.0.1:8765") as test_client:
        yield test_client
