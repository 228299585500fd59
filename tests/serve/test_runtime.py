"""`clap serve --runtime openvino|onnx`: the server over an exported model (no torch in its searches) gives
the torch server's hits and scores."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")


@pytest.mark.parametrize("runtime", ["openvino", "onnx"])
def test_text_search_on_an_exported_runtime_equals_torch(library_db, client, runtime):
    from fastapi.testclient import TestClient

    from clapcli.models.loading import load_embedding_model
    from clapcli.serve import ServeOptions, build

    app = build(ServeOptions(library_db, check_interval=0.0),
                loader=lambda model_id: load_embedding_model(model_id, device="cpu", runtime=runtime))
    try:
        with TestClient(app, base_url="http://127.0.0.1:8765") as exported:
            for query in ("a rising tone", "rain on a roof", "drums"):
                want = client.get("/api/search/text", params={"q": query, "k": 4}).json()["hits"]
                got = exported.get("/api/search/text", params={"q": query, "k": 4}).json()["hits"]
                assert [h["id"] for h in got] == [h["id"] for h in want], query
                assert max(abs(a["score"] - b["score"]) for a, b in zip(got, want)) <= 1e-5, query
            engine = app.fastapi.state.engine
            assert all(getattr(model, "runtime", "torch") == runtime for model in engine._models.values())
    finally:
        app.fastapi.state.engine.close()


def test_serve_takes_the_runtime_and_precision_options(cli):
    shown = cli(["serve", "--help"], env={"COLUMNS": "250"}).stdout
    assert "auto|torch|openvino|onnx" in shown and "exact|fast|bfloat16|float16|int8" in shown
    bad = cli(["serve", "--runtime", "tensorrt"])
    assert bad.exit_code == 2 and "Invalid value for '--runtime'" in bad.stderr
