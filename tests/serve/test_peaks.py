"""Waveform peaks, downloads and relative paths: /api/peaks and /api/audio?download=1 under the server's guards."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from clapcli.audio.decode import load_audio
from clapcli.serve.peaks import MAX_WIDTH

from .conftest import embed_into
from .test_safety import item_ids, make_client


def reference_peaks(path: Path, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Min/max per column straight from the whole decoded file (sample s of n in column s*width//n)."""
    samples = load_audio(path, None).samples
    n = len(samples)
    width = min(width, n)
    column = np.arange(n) * width // n
    return (np.array([samples[column == c].min() for c in range(width)]),
            np.array([samples[column == c].max() for c in range(width)]))


def hits(client, k: int = 20) -> list[dict]:
    return client.get("/api/search/text", params={"q": "a sound", "k": k}).json()["hits"]


@pytest.mark.parametrize("width", [1, 7, 200, MAX_WIDTH])
def test_peaks_equal_the_min_and_max_of_the_decoded_samples(client, width: int) -> None:
    found = hits(client)
    assert len(found) == 6
    for hit in found:
        response = client.get(f"/{hit['peaks_url']}", params={"width": width})
        assert response.status_code == 200, response.text
        body = response.json()
        low, high = reference_peaks(Path(hit["path"]), width)
        assert body["width"] == len(low) == len(body["min"]) == len(body["max"])
        np.testing.assert_allclose(body["min"], low, atol=1e-6)
        np.testing.assert_allclose(body["max"], high, atol=1e-6)
        assert all(a <= b for a, b in zip(body["min"], body["max"], strict=True))
        assert body["duration"] == pytest.approx(hit["duration"], abs=0.01)


def test_peaks_width_is_bounded_and_answers_are_cached(client) -> None:
    hit = hits(client)[0]
    for bad in (0, -3, MAX_WIDTH + 1, "wide"):
        response = client.get(f"/{hit['peaks_url']}", params={"width": bad})
        assert response.status_code == 422 and response.json()["error"].startswith("width:"), response.text
    cache = client.app.fastapi.state.peaks
    client.get(f"/{hit['peaks_url']}", params={"width": 33})
    size = len(cache)
    assert client.get(f"/{hit['peaks_url']}", params={"width": 33}).status_code == 200
    assert len(cache) == size  # the second answer came from the cache
    assert client.get("/api/peaks/default/999999").status_code == 404
    assert client.get("/api/peaks/nope/1").status_code == 404


def test_peaks_and_download_refused_for_a_file_changed_on_disk(tmp_path: Path, sounds: Path, tiny_clap: Path,
                                                                 loaded_clap, cli) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    for path in sorted(sounds.iterdir())[:2]:
        shutil.copy(path, folder / path.name)
    db = tmp_path / "library.db"
    embed_into(cli, folder, db, tiny_clap)
    client = make_client(db, loaded_clap)
    names = item_ids(client)
    victim, other = sorted(names)
    assert client.get(f"/api/peaks/default/{names[victim]}?width=10").status_code == 200  # cached now
    shutil.copy(folder / other, folder / victim)  # same path, other bytes
    os.utime(folder / victim, ns=(1, 1))
    for url in (f"/api/peaks/default/{names[victim]}?width=10", f"/api/audio/default/{names[victim]}?download=1"):
        response = client.get(url)
        assert response.status_code == 403, response.text
        assert "not the file the library embedded" in response.json()["error"]
    (folder / victim).unlink()
    (folder / victim).symlink_to("/etc/passwd")
    response = client.get(f"/api/peaks/default/{names[victim]}")
    assert response.status_code == 403 and "outside the library" in response.json()["error"]


def test_peaks_of_an_undecodable_file_is_one_json_line(tmp_path: Path, sounds: Path, tiny_clap: Path,
                                                       loaded_clap, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the decoder refuses (the hash still matches, so the decoder is made to refuse) is one 400 line."""
    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copy(sorted(sounds.iterdir())[0], folder / "a.wav")
    db = tmp_path / "library.db"
    embed_into(cli, folder, db, tiny_clap)
    client = make_client(db, loaded_clap)
    item = item_ids(client)["a.wav"]
    import clapcli.serve.peaks as peaks

    def broken(path, width):
        from clapcli.errors import InputError

        raise InputError(f"{path.name}: not a readable audio file")

    monkeypatch.setattr(peaks, "column_peaks", broken)
    response = client.get(f"/api/peaks/default/{item}")
    assert response.status_code == 400
    assert response.json() == {"error": f"item {item}: a.wav: not a readable audio file"}


def test_new_endpoints_keep_the_host_and_token_guards(library_db: Path, loaded_clap) -> None:
    client = make_client(library_db, loaded_clap)
    hit = hits(client)[0]
    for url in (f"/{hit['peaks_url']}", f"/{hit['audio_url']}?download=1"):
        response = client.get(url, headers={"Host": "evil.example"})
        assert response.status_code == 400 and "not this server's name" in response.json()["error"]
    guarded = make_client(library_db, loaded_clap, token="s3cret-token")
    for url in (f"/{hit['peaks_url']}", f"/{hit['audio_url']}?download=1"):
        assert guarded.get(url).status_code == 401
        assert guarded.get(url, params={"token": "s3cret-token"}).status_code == 200


def test_download_is_an_attachment_named_after_the_file(client) -> None:
    hit = hits(client)[0]
    response = client.get(f"/{hit['audio_url']}", params={"download": "1"})
    assert response.status_code == 200
    assert response.content == Path(hit["path"]).read_bytes()
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and hit["name"] in disposition
    plain = client.get(f"/{hit['audio_url']}")
    assert "content-disposition" not in plain.headers


def test_paths_are_relative_to_the_common_folder(client) -> None:
    for hit in hits(client):
        assert hit["relpath"] == hit["name"]  # one folder: the root is it
    drums = client.get("/api/search/text", params={"q": "x", "collection": "drums"}).json()["hits"]
    assert {h["relpath"] for h in drums} == {h["name"] for h in drums}
