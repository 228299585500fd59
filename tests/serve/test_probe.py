"""``clap serve --probe``: /api/classify (the page's zero-shot bars) scores the probe's classes for collections
of the probe's model; a probe no collection can use is refused in one line before serving."""

from __future__ import annotations

import numpy as np
import pytest

from clapcli.api import embed_audio
from clapcli.core.probe.model import Probe
from clapcli.core.probe.store import load_probe, save_probe


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory, sounds, tiny_clap):
    from typer.testing import CliRunner

    from clapcli.cli import app

    files = sorted(sounds.iterdir())
    data = tmp_path_factory.mktemp("serve-probe") / "labels.csv"
    data.write_text("path,label\n" + "".join(f"{p},{'first' if i < 3 else 'second'}\n" for i, p in enumerate(files)))
    out = data.parent / "probe"
    result = CliRunner().invoke(app, ["train", str(data), "-o", str(out), "-m", str(tiny_clap), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def probe_client(library_db, loaded_clap, probe_dir):
    from fastapi.testclient import TestClient

    from clapcli.serve import ServeOptions, build

    app = build(ServeOptions(library_db, check_interval=0.0, probe=probe_dir), loader=lambda model_id: loaded_clap)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        yield client
    app.fastapi.state.engine.close()


def test_classify_scores_the_probe_classes(probe_client, probe_dir, loaded_clap, audio_files) -> None:
    path = audio_files["flac"]
    response = probe_client.post("/api/classify", files={"file": (path.name, path.read_bytes())},
                                 data={"labels": "dog barking, rain"})  # what the page sends; not used
    assert response.status_code == 200, response.text
    body = response.json()
    probe = load_probe(probe_dir)
    expected = probe.probabilities(np.array(embed_audio(loaded_clap, [str(path)])[0].vector)[None])[0]
    assert body["method"] == "probe" and sorted(s["label"] for s in body["predictions"]) == probe.classes
    for score in body["predictions"]:
        assert score["score"] == pytest.approx(float(expected[probe.classes.index(score["label"])]), abs=1e-5)
    scores = [s["score"] for s in body["predictions"]]
    assert scores == sorted(scores, reverse=True)  # best first, as the bars are drawn
    listed = probe_client.get("/api/collections").json()
    assert all(c["probe_classes"] == probe.classes for c in listed)  # both collections use the probe's model


def test_without_probe_the_labels_are_scored(client, audio_files) -> None:
    path = audio_files["flac"]
    body = client.post("/api/classify", files={"file": (path.name, path.read_bytes())},
                       data={"labels": "dog barking, rain"}).json()
    assert body["method"] == "zero-shot" and {s["label"] for s in body["predictions"]} == {"dog barking", "rain"}
    assert all(c["probe_classes"] is None for c in client.get("/api/collections").json())


def test_a_probe_of_another_model_is_refused_in_one_line(cli, library_db, tmp_path) -> None:
    other = tmp_path / "other"
    save_probe(Probe(["a", "b"], np.zeros((2, 16), np.float32), np.zeros(2, np.float32), False,
                     {"model": {"id": "someone/else"}}), other)
    result = cli(["serve", "--db", library_db, "--probe", other, "--port", "0"])
    assert result.exit_code == 2 and result.stderr.strip().count("\n") == 0
    assert f"--probe {other}: trained on 'someone/else', which no collection of" in result.stderr
    assert "default (" in result.stderr
    missing = cli(["serve", "--db", library_db, "--probe", tmp_path / "none", "--port", "0"])
    assert missing.exit_code == 1 and "no such directory" in missing.stderr
