"""A library built with ``clap embed --segments``: hits play, one per file (as ``clap retrieve``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from clapcli.api import retrieve
from clapcli.serve import ServeOptions, build


@pytest.fixture(scope="module")
def segment_db(tmp_path_factory: pytest.TempPathFactory, sounds: Path, tiny_clap: Path) -> Path:
    from typer.testing import CliRunner

    from clapcli.cli import app

    folder = tmp_path_factory.mktemp("segments") / "long"
    folder.mkdir()
    for path in sorted(sounds.iterdir())[:3]:
        shutil.copy(path, folder / path.name)
    db = folder.parent / "segments.db"
    result = CliRunner().invoke(app, ["embed", str(folder), "--db", str(db), "--model", str(tiny_clap),
                                      "--segments", "0.25", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return db


@pytest.fixture(scope="module")
def segment_client(segment_db: Path, loaded_clap):
    app = build(ServeOptions(segment_db, check_interval=0.0), loader=lambda model_id: loaded_clap)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        yield client
    app.fastapi.state.engine.close()


def test_hits_are_the_best_window_of_each_file_as_in_retrieve(segment_client, segment_db: Path,
                                                              loaded_clap) -> None:
    body = segment_client.get("/api/search/text", params={"q": "a dog", "k": 10}).json()
    [want] = retrieve(["a dog"], model=loaded_clap, db=segment_db, k=10, include_self=True)
    assert len(body["hits"]) == 3 == len(want.hits)  # three files, many windows each
    assert [(h["path"], h["start"], h["end"]) for h in body["hits"]] == [(w.target, w.start, w.end)
                                                                         for w in want.hits]
    np.testing.assert_allclose([h["score"] for h in body["hits"]], [w.score for w in want.hits], atol=1e-5)
    for hit in body["hits"]:
        assert "#t=" not in hit["path"] and Path(hit["path"]).is_file()
        assert hit["name"] == Path(hit["path"]).name and 0 <= hit["start"] < hit["end"]


def test_a_segment_hit_plays_the_source_file_with_ranges(segment_client) -> None:
    for hit in segment_client.get("/api/search/text", params={"q": "rain", "k": 3}).json()["hits"]:
        whole = segment_client.get("/" + hit["audio_url"])
        assert whole.status_code == 200, whole.text
        assert whole.content == Path(hit["path"]).read_bytes()
        part = segment_client.get("/" + hit["audio_url"], headers={"Range": "bytes=4-11"})
        assert part.status_code == 206 and part.content == whole.content[4:12]


def test_more_like_this_skips_the_windows_of_the_same_file(segment_client) -> None:
    first = segment_client.get("/api/search/text", params={"q": "tone", "k": 1}).json()["hits"][0]
    hits = segment_client.get(f"/api/search/similar/{first['id']}", params={"k": 10}).json()["hits"]
    assert len(hits) == 2 and first["path"] not in {h["path"] for h in hits}
    assert len({h["path"] for h in hits}) == 2


def test_a_segment_hit_lists_its_files_next_best_windows(segment_client) -> None:
    from clapcli.serve.engine import MAX_WINDOWS

    body = segment_client.get("/api/search/text", params={"q": "a dog", "k": 10}).json()
    for hit in body["hits"]:
        windows = hit["windows"]
        assert 1 <= len(windows) <= MAX_WINDOWS
        scores = [hit["score"]] + [w["score"] for w in windows]
        assert scores == sorted(scores, reverse=True)  # best window first
        assert hit["id"] not in {w["id"] for w in windows} and len({w["start"] for w in windows}) == len(windows)
        for window in windows:  # each is a window of the same file, playable from its start
            similar = segment_client.get(f"/api/search/similar/{window['id']}", params={"k": 10}).json()
            assert hit["path"] not in {h["path"] for h in similar["hits"]}
            assert 0 <= window["start"] < window["end"] <= hit["duration"] + 1e-6
