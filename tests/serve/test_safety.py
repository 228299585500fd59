"""The Safety section: links out of the library, tokens, hosts, upload limits; the library re-read on change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clapcli.errors import UsageError
from clapcli.serve import ServeOptions, build, check_options

from .conftest import embed_into


@pytest.fixture
def own_library(tmp_path: Path, sounds: Path, tiny_clap: Path, cli) -> tuple[Path, Path]:
    """A library of two files this test may change."""
    folder = tmp_path / "lib"
    folder.mkdir()
    for path in sorted(sounds.iterdir())[:2]:
        shutil.copy(path, folder / path.name)
    db = tmp_path / "library.db"
    embed_into(cli, folder, db, tiny_clap)
    return folder, db


def make_client(db: Path, model, **options) -> TestClient:
    app = build(ServeOptions(db, check_interval=0.0, **options), loader=lambda model_id: model)
    return TestClient(app, base_url="http://127.0.0.1:8765")


def item_ids(client: TestClient) -> dict[str, int]:
    hits = client.get("/api/search/text", params={"q": "x", "k": 100}).json()["hits"]
    return {Path(h["path"]).name: h["id"] for h in hits}


def test_a_row_replaced_by_a_link_out_of_the_library_is_not_served(own_library, loaded_clap, tmp_path: Path) -> None:
    folder, db = own_library
    secret = tmp_path / "elsewhere" / "secret.wav"
    secret.parent.mkdir()
    secret.write_bytes(b"RIFF secret bytes")
    client = make_client(db, loaded_clap)
    names = item_ids(client)
    victim, other = sorted(names)
    original = (folder / victim).read_bytes()
    (folder / victim).unlink()
    (folder / victim).symlink_to(secret)
    response = client.get(f"/api/audio/default/{names[victim]}")
    assert response.status_code == 403 and b"secret" not in response.content
    assert "outside the library" in response.json()["error"]
    (folder / victim).unlink()
    (folder / victim).symlink_to("/etc/passwd")
    response = client.get(f"/api/audio/default/{names[victim]}")
    assert response.status_code == 403 and b"root:" not in response.content
    # A link that stays inside the library's folders is fine when it reaches the bytes embedded...
    (folder / victim).unlink()
    (folder / f"copy-{victim}").write_bytes(original)
    (folder / victim).symlink_to(folder / f"copy-{victim}")
    assert client.get(f"/api/audio/default/{names[victim]}").content == original
    # ...not when it reaches another file of the library.
    (folder / victim).unlink()
    (folder / victim).symlink_to(folder / other)
    response = client.get(f"/api/audio/default/{names[victim]}")
    assert response.status_code == 403 and "not the file the library embedded" in response.json()["error"]
    (folder / victim).unlink()
    response = client.get(f"/api/audio/default/{names[victim]}")
    assert response.status_code == 404 and "--prune" in response.json()["error"]


def test_library_is_reread_when_embed_adds_files(own_library, loaded_clap, sounds: Path, tiny_clap: Path,
                                                 cli) -> None:
    folder, db = own_library
    client = make_client(db, loaded_clap)
    assert client.get("/api/collections").json()[0]["count"] == 2
    new = sorted(sounds.iterdir())[-1]
    shutil.copy(new, folder / new.name)
    embed_into(cli, folder, db, tiny_clap)  # another 'clap embed --db' while the server runs
    assert client.get("/api/collections").json()[0]["count"] == 3
    assert new.name in item_ids(client)
    embed_into(cli, folder, db, tiny_clap, "fresh")
    assert [c["name"] for c in client.get("/api/collections").json()] == ["default", "fresh"]


def test_the_server_opens_the_library_read_only(own_library, loaded_clap) -> None:
    _, db = own_library
    before = db.stat().st_mtime_ns, db.read_bytes()
    client = make_client(db, loaded_clap)
    client.get("/api/search/text", params={"q": "x"})
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before


def test_token_is_required_when_set(library_db: Path, loaded_clap) -> None:
    client = make_client(library_db, loaded_clap, token="s3cret-token")
    response = client.get("/api/collections")
    assert response.status_code == 401 and "token" in response.json()["error"]
    assert client.get("/api/collections", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    good = {"Authorization": "Bearer s3cret-token"}
    assert client.get("/api/collections", headers=good).status_code == 200
    hit = client.get("/api/search/text", params={"q": "x", "k": 1}, headers=good).json()["hits"][0]
    assert client.get("/" + hit["audio_url"]).status_code == 401
    assert client.get("/" + hit["audio_url"], params={"token": "s3cret-token"}).status_code == 200
    assert client.get("/").status_code == 200 and client.get("/static/app.js").status_code == 200


@pytest.mark.parametrize("options,message", [
    ({"host": "0.0.0.0"}, "give token SECRET"),
    ({"host": "192.0.2.1"}, "or no_auth to serve"),
    ({"token": "abc", "host": "::"}, "too short"),
    ({"token": "abcdefgh", "no_auth": True}, "contradict"),
    ({"nprobe": 4}, "^nprobe goes with approximate$"),
])
def test_unsafe_options_are_refused(options: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=message):
        check_options(ServeOptions(tmp_path / "x.db", **options))


def test_open_hosts_are_allowed_with_a_token_or_no_auth(tmp_path: Path) -> None:
    check_options(ServeOptions(tmp_path / "x.db", host="0.0.0.0", token="long-enough-token"))
    check_options(ServeOptions(tmp_path / "x.db", host="0.0.0.0", no_auth=True, allow_hosts=("box.lan",)))
    check_options(ServeOptions(tmp_path / "x.db", host="::1"))
    check_options(ServeOptions(tmp_path / "x.db", host="localhost"))


def test_uploads_over_the_limit_get_413(library_db: Path, loaded_clap, audio_files) -> None:
    client = make_client(library_db, loaded_clap, upload_limit_mb=0.01)  # ~10 kB
    big = audio_files["wav_stereo_44k"].read_bytes()
    assert len(big) > 20_000
    response = client.post("/api/search/audio", files={"file": ("big.wav", big)})
    assert response.status_code == 413 and "--max-upload-mb" in response.json()["error"]
    small = audio_files["mp3"].read_bytes()
    assert len(small) < 10_000
    assert client.post("/api/search/audio", files={"file": ("small.mp3", small)}).status_code == 200


def test_chunked_upload_without_length_is_cut_at_the_limit(library_db: Path, loaded_clap) -> None:
    client = make_client(library_db, loaded_clap, upload_limit_mb=0.01)

    def body():
        yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        for _ in range(100):
            yield b"x" * 1000

    response = client.post("/api/embed/audio", content=body(),
                           headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert response.status_code == 413


def test_approximate_search_gives_the_exact_results_on_a_small_library(library_db: Path, loaded_clap,
                                                                        client) -> None:
    approximate = make_client(library_db, loaded_clap, approximate=True)
    for query in ("rain", "a dog"):
        a = approximate.get("/api/search/text", params={"q": query, "k": 4}).json()["hits"]
        b = client.get("/api/search/text", params={"q": query, "k": 4}).json()["hits"]
        assert [h["id"] for h in a] == [h["id"] for h in b]
        assert [h["score"] for h in a] == pytest.approx([h["score"] for h in b], abs=1e-5)


def test_missing_or_empty_library_is_refused(tmp_path: Path, loaded_clap) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        build(ServeOptions(tmp_path / "none.db"), loader=lambda m: loaded_clap)
    from clapcli.store import open_store

    open_store(tmp_path / "empty.db").close()
    with pytest.raises(UsageError, match="no collections"):
        build(ServeOptions(tmp_path / "empty.db"), loader=lambda m: loaded_clap)


def test_unknown_default_collection_is_refused(library_db: Path, loaded_clap) -> None:
    with pytest.raises(UsageError, match="no collection 'nope'.*default, drums"):
        build(ServeOptions(library_db, collection="nope"), loader=lambda m: loaded_clap)


def test_cli_refuses_before_loading_anything(cli, tmp_path: Path, library_db: Path) -> None:
    result = cli(["serve", "--db", tmp_path / "missing.db"])
    assert result.exit_code == 2 and "does not exist" in result.stderr
    result = cli(["serve", "--db", library_db, "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--token" in result.stderr
    result = cli(["serve", "--help"])
    assert result.exit_code == 0 and "clap serve --db library.db" in result.stdout



def test_a_row_replaced_by_a_hard_link_to_another_file_is_not_served(own_library, loaded_clap,
                                                                      tmp_path: Path) -> None:
    """Hard links keep the path inside the library's folders; the bytes must be those embedded."""
    import os

    folder, db = own_library
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"RIFF secret bytes, not audio at all")
    client = make_client(db, loaded_clap)
    names = item_ids(client)
    victim, other = sorted(names)
    original = (folder / victim).read_bytes()
    (folder / victim).unlink()
    os.link(secret, folder / victim)  # same folder, audio extension, not a symlink
    response = client.get(f"/api/audio/default/{names[victim]}")
    assert response.status_code == 403 and b"secret" not in response.content
    assert response.json()["error"] == (f"item {names[victim]} ({folder / victim}) is not the file the library "
                                        f"embedded (its content changed); not served; run 'clap embed --db {db}' "
                                        "to index it again")
    # The embedded file itself, hard-linked from elsewhere: the same bytes, so it is served.
    (folder / victim).unlink()
    (tmp_path / "elsewhere" / victim).write_bytes(original)
    os.link(tmp_path / "elsewhere" / victim, folder / victim)
    assert client.get(f"/api/audio/default/{names[victim]}").content == original
    # Changed in place (same inode, new bytes): refused too.
    with open(folder / victim, "r+b") as handle:
        handle.seek(len(original) // 2)
        handle.write(b"\x7f" * 64)
    assert client.get(f"/api/audio/default/{names[victim]}").status_code == 403
    assert client.get(f"/api/audio/default/{names[other]}").status_code == 200


def test_a_file_is_hashed_once_until_it_changes(own_library, loaded_clap, monkeypatch: pytest.MonkeyPatch) -> None:
    from clapcli.serve import library

    folder, db = own_library
    client = make_client(db, loaded_clap)
    item = next(iter(item_ids(client).values()))
    hashed = []
    real = library.content_hash
    monkeypatch.setattr(library, "content_hash", lambda path: hashed.append(path) or real(path))
    for _ in range(3):
        assert client.get(f"/api/audio/default/{item}", headers={"Range": "bytes=0-9"}).status_code == 206
    assert len(hashed) == 1
