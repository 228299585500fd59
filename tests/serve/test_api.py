"""The JSON API, every endpoint and error, against the library API on the same library and model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clapcli.api import classify, embed_audio, embed_text, retrieve


def hits_of(response) -> list[tuple[str, float]]:
    assert response.status_code == 200, response.text
    return [(hit["path"], hit["score"]) for hit in response.json()["hits"]]


def expected(query: str, db: Path, model, k: int, collection: str = "default") -> list[tuple[str, float]]:
    [result] = retrieve([query], model=model, db=db, collection=collection, k=k, include_self=True)
    return [(hit.target, hit.score) for hit in result.hits]


def assert_same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [path for path, _ in got] == [path for path, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


def test_collections_lists_names_models_and_counts(client, library_db: Path, tiny_clap: Path) -> None:
    body = client.get("/api/collections").json()
    assert [(c["name"], c["count"], c["default"]) for c in body] == [("default", 6, True), ("drums", 2, False)]
    assert {c["model"] for c in body} == {str(tiny_clap)} and {c["dim"] for c in body} == {16}


@pytest.mark.parametrize("query,k", [("a dog barking", 3), ("soft piano with vinyl crackle", 6)])
def test_text_search_equals_retrieve(client, library_db: Path, loaded_clap, query: str, k: int) -> None:
    response = client.get("/api/search/text", params={"q": query, "k": k})
    assert_same(hits_of(response), expected(query, library_db, loaded_clap, k))
    body = response.json()
    assert body["collection"] == "default" and body["query"] == query
    assert [h["rank"] for h in body["hits"]] == list(range(1, k + 1))
    assert all(h["audio_url"] == f"api/audio/default/{h['id']}" for h in body["hits"])


def test_collection_switch_searches_that_collection(client, library_db: Path, loaded_clap) -> None:
    response = client.get("/api/search/text", params={"q": "rain", "k": 5, "collection": "drums"})
    assert_same(hits_of(response), expected("rain", library_db, loaded_clap, 5, "drums"))
    assert len(response.json()["hits"]) == 2


def test_upload_search_equals_retrieve_by_file(client, library_db: Path, loaded_clap, audio_files) -> None:
    outside = audio_files["wav_6ch_48k"]  # not in the library: embedded from the upload
    response = client.post("/api/search/audio", files={"file": (outside.name, outside.read_bytes())}, data={"k": "4"})
    assert_same(hits_of(response), expected(str(outside), library_db, loaded_clap, 4))
    assert response.json()["query"] == outside.name


def test_more_like_this_is_retrieve_of_the_item_without_itself(client, library_db: Path, loaded_clap) -> None:
    first = client.get("/api/search/text", params={"q": "tone", "k": 1}).json()["hits"][0]
    response = client.get(f"/api/search/similar/{first['id']}", params={"k": 3})
    want = expected(first["path"], library_db, loaded_clap, 4)
    assert want[0][0] == first["path"]  # retrieve finds the file itself first (cosine 1)
    assert_same(hits_of(response), want[1:])


def test_classify_equals_library_classify(client, loaded_clap, audio_files) -> None:
    path = audio_files["flac"]
    labels = ["dog barking", "rain", "piano"]
    response = client.post("/api/classify", files={"file": (path.name, path.read_bytes())},
                           data={"labels": ", ".join(labels)})
    assert response.status_code == 200, response.text
    want = classify(loaded_clap, [str(path)], labels)[0].predictions
    got = response.json()["predictions"]
    assert [s["label"] for s in got] == [p.label for p in want]
    np.testing.assert_allclose([s["score"] for s in got], [p.score for p in want], atol=1e-5)


def test_embed_text_and_audio_return_the_library_vectors(client, loaded_clap, audio_files) -> None:
    texts = ["rain on a roof", "a cat"]
    body = client.post("/api/embed/text", json={"texts": texts}).json()
    np.testing.assert_allclose(body["vectors"], [e.vector for e in embed_text(loaded_clap, texts)], atol=1e-5)
    assert body["dim"] == 16
    path = audio_files["ogg"]
    body = client.post("/api/embed/audio", files={"file": (path.name, path.read_bytes())}).json()
    np.testing.assert_allclose(body["vectors"][0], embed_audio(loaded_clap, [str(path)])[0].vector, atol=1e-5)
    assert body["duration"] == pytest.approx(1.0, abs=0.01)


def test_audio_streams_library_files_with_ranges(client) -> None:
    hit = client.get("/api/search/text", params={"q": "x", "k": 1}).json()["hits"][0]
    whole = client.get("/" + hit["audio_url"])
    assert whole.status_code == 200 and whole.content == Path(hit["path"]).read_bytes()
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get("/" + hit["audio_url"], headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == whole.content[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(whole.content)}"
    assert client.get("/" + hit["audio_url"], headers={"Range": "bytes=99999999-"}).status_code == 416


@pytest.mark.parametrize("path", [
    "/api/audio/default/../../../../etc/passwd",
    "/api/audio/default/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/audio/default/%2Fetc%2Fpasswd",
    "/api/audio/default//etc/passwd",
    "/api/audio/..%2f..%2fetc/passwd",
    "/static/../../../../etc/passwd",
    "/static/..%2F..%2F..%2Fpyproject.toml",
    "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/static//etc/passwd",
    "/static/..%5c..%5cpyproject.toml",
])
def test_no_path_traversal(served, path: str) -> None:
    """Raw request paths (no client-side normalization): nothing outside the library or the page."""
    import asyncio

    status, body = asyncio.run(raw_get(served, path))
    assert status in (404, 422), (status, body[:200])
    assert b"root:" not in body and b"[project]" not in body
    assert body.startswith(b'{"error":')


async def raw_get(app, path: str) -> tuple[int, bytes]:
    raw, _, query = path.partition("?")
    from urllib.parse import unquote

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": unquote(raw), "raw_path": raw.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert isinstance(message, str) and "\n" not in message and message
    return message


def test_errors_are_one_line_json_and_the_server_keeps_serving(client, broken_files) -> None:
    assert "not a readable audio file" in error_of(
        client.post("/api/search/audio", files={"file": ("junk.wav", b"this is not audio")}), 400)
    truncated = broken_files[next(k for k in broken_files if "trunc" in k)]
    error_of(client.post("/api/classify", files={"file": (truncated.name, truncated.read_bytes())},
                         data={"labels": "a,b"}), 400)
    assert "empty" in error_of(client.post("/api/embed/audio", files={"file": ("e.wav", b"")}), 400)
    assert "no collection 'nope'" in error_of(client.get("/api/search/text", params={"q": "x", "collection": "nope"}),
                                              404)
    assert "q" in error_of(client.get("/api/search/text"), 422)
    assert "k" in error_of(client.get("/api/search/text", params={"q": "x", "k": 0}), 422)
    assert "file" in error_of(client.post("/api/search/audio", data={"k": "3"}), 422)
    assert "no item 424242" in error_of(client.get("/api/audio/default/424242"), 404)
    assert "no item 424242" in error_of(client.get("/api/search/similar/424242"), 404)
    assert "empty" in error_of(client.post("/api/embed/text", json={"texts": []}), 400)
    assert "empty" in error_of(client.get("/api/search/text", params={"q": "   "}), 400)
    assert client.get("/api/search/text", params={"q": "still serving"}).status_code == 200


def test_classify_needs_two_labels(client, audio_files) -> None:
    path = audio_files["flac"]
    message = error_of(client.post("/api/classify", files={"file": (path.name, path.read_bytes())},
                                   data={"labels": "only one"}), 400)
    assert "two distinct labels" in message


def test_openapi_documents_every_endpoint(client) -> None:
    assert client.get("/docs").status_code == 200
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/api/collections", "/api/search/text", "/api/search/audio", "/api/search/similar/{item_id}",
            "/api/classify", "/api/embed/text", "/api/embed/audio", "/api/audio/{collection}/{item_id}"} <= paths


def test_cors_is_off(client) -> None:
    response = client.get("/api/collections", headers={"Origin": "http://evil.example"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    preflight = client.options("/api/collections", headers={"Origin": "http://evil.example",
                                                             "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


def test_page_and_static_files_ship_in_the_package(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'src="static/app.js"' in page.text
    for name in ("app.js", "style.css", "index.html"):
        assert client.get(f"/static/{name}").status_code == 200
    # No CDN: nothing the page loads comes from another host.
    for name in ("index.html", "app.js", "style.css"):
        text = client.get(f"/static/{name}").text
        assert "//cdn" not in text and "https://" not in text and "http://" not in text, name
