"""API and page details: encoded collection names, JSON Range errors, tokens, k on uploads, one
vocabulary for classification across CLI JSON, API and Python."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from clapcli.api import classify
from clapcli.errors import UsageError
from clapcli.serve import ServeOptions, build, check_options

from .conftest import embed_into

ODD_NAME = "drums/kit #2?x=1"


@pytest.fixture(scope="module")
def odd_client(tmp_path_factory: pytest.TempPathFactory, sounds: Path, tiny_clap: Path, loaded_clap):
    from typer.testing import CliRunner

    from clapcli.cli import app

    def cli(args):
        return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)

    folder = tmp_path_factory.mktemp("odd") / "kit"
    folder.mkdir()
    for path in sorted(sounds.iterdir())[:2]:
        shutil.copy(path, folder / path.name)
    db = folder.parent / "odd.db"
    embed_into(cli, folder, db, tiny_clap, ODD_NAME)
    served = build(ServeOptions(db, check_interval=0.0), loader=lambda model_id: loaded_clap)
    with TestClient(served, base_url="http://127.0.0.1:8765") as client:
        yield client
    served.fastapi.state.engine.close()


def test_collection_names_with_slash_hash_and_query_play(odd_client) -> None:
    body = odd_client.get("/api/search/text", params={"q": "x", "k": 2, "collection": ODD_NAME}).json()
    assert body["collection"] == ODD_NAME and len(body["hits"]) == 2
    for hit in body["hits"]:
        assert hit["audio_url"] == f"api/audio/drums%2Fkit%20%232%3Fx%3D1/{hit['id']}"
        response = odd_client.get("/" + hit["audio_url"])
        assert response.status_code == 200 and response.content == Path(hit["path"]).read_bytes()


@pytest.mark.parametrize("header,status", [("bytes=abc", 400), ("items=0-1", 400), ("bytes=99999999-", 416)])
def test_a_bad_range_answers_a_json_error(client, header: str, status: int) -> None:
    hit = client.get("/api/search/text", params={"q": "x", "k": 1}).json()["hits"][0]
    response = client.get("/" + hit["audio_url"], headers={"Range": header})
    assert response.status_code == status and response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert message.startswith("Range") and "\n" not in message
    if status == 416:
        assert response.headers["content-range"] == f"bytes */{Path(hit['path']).stat().st_size}"


@pytest.mark.parametrize("token", ["pässwörd-long", "token with space", "tab\tseparated", "ключ-доступа"])
def test_tokens_a_header_cannot_carry_are_refused_at_start(tmp_path: Path, token: str) -> None:
    with pytest.raises(UsageError, match="^token must be printable ASCII without spaces"):
        check_options(ServeOptions(tmp_path / "x.db", token=token))


def test_k_of_an_upload_search_may_be_in_the_query(client, audio_files) -> None:
    clip = audio_files["mp3"]
    for params, data in (({"k": "2"}, {}), ({}, {"k": "2"})):
        response = client.post("/api/search/audio", params=params, data=data,
                               files={"file": (clip.name, clip.read_bytes())})
        assert response.status_code == 200 and len(response.json()["hits"]) == 2
    response = client.post("/api/search/audio", params={"k": "0"}, files={"file": (clip.name, clip.read_bytes())})
    assert response.status_code == 422


def test_classify_speaks_the_cli_json_vocabulary(client, cli, tiny_clap: Path, loaded_clap, audio_files) -> None:
    path = audio_files["flac"]
    labels = ["dog barking", "rain", "piano"]
    api = client.post("/api/classify", files={"file": (path.name, path.read_bytes())},
                      data={"labels": ", ".join(labels)}).json()
    result = cli(["classify", path, "--labels", ",".join(labels), "--model", tiny_clap, "-f", "json", "--quiet"])
    assert result.exit_code == 0, result.stderr
    [record] = json.loads(result.stdout)
    python = classify(loaded_clap, [str(path)], labels)[0]
    assert set(record) <= set(api) and set(api) - set(record) == {"model", "method"}  # method: zero-shot or probe
    assert api["path"] == path.name and api["duration"] == pytest.approx(record["duration"], abs=1e-3)
    assert [p["label"] for p in api["predictions"]] == [p["label"] for p in record["predictions"]] \
        == [p.label for p in python.predictions]
    np.testing.assert_allclose([p["score"] for p in api["predictions"]], [p["score"] for p in record["predictions"]],
                               atol=1e-5)
