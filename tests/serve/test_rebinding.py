"""DNS rebinding: a page on another site reaching the loopback server through the user's browser.

The browser sends the attacker's name in ``Host`` (the name resolved to 127.0.0.1), and its own
origin in ``Origin`` on a POST; both are refused with a one-line JSON error before any route runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clapcli.serve import ServeOptions, build


def app_over(db: Path, model, **options):
    return build(ServeOptions(db, check_interval=0.0, **options), loader=lambda model_id: model)


@pytest.mark.parametrize("host", ["evil.attacker.example", "evil.attacker.example:8765", "127.0.0.1.evil.example",
                                  "localhost.evil.example", "[::2]:8765"])
def test_a_foreign_host_is_refused_on_every_route(library_db: Path, loaded_clap, host: str) -> None:
    client = TestClient(app_over(library_db, loaded_clap), base_url=f"http://{host}")
    for path in ("/api/search/text?q=dog", "/api/collections", "/api/audio/default/1", "/", "/static/app.js"):
        response = client.get(path)
        assert response.status_code == 400, (path, response.text)
        message = response.json()["error"]
        assert "not this server's name" in message and "127.0.0.1" in message
        assert "/" + library_db.parent.name not in response.text  # no library path leaks


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8765", "localhost:8765", "LOCALHOST", "[::1]:8765"])
def test_loopback_names_are_served(library_db: Path, loaded_clap, host: str) -> None:
    client = TestClient(app_over(library_db, loaded_clap), base_url=f"http://{host}")
    assert client.get("/api/collections").status_code == 200


def test_a_foreign_origin_cannot_post(library_db: Path, loaded_clap, audio_files) -> None:
    client = TestClient(app_over(library_db, loaded_clap), base_url="http://127.0.0.1:8765")
    clip = audio_files["mp3"]
    for origin in ("http://evil.attacker.example", "null", "http://127.0.0.1.evil.example:8765"):
        response = client.post("/api/embed/audio", files={"file": (clip.name, clip.read_bytes())},
                               headers={"Origin": origin})
        assert response.status_code == 403 and "Origin" in response.json()["error"], origin
        response = client.post("/api/embed/text", json={"texts": ["a dog"]}, headers={"Origin": origin})
        assert response.status_code == 403, origin
    for origin in ("http://127.0.0.1:8765", "http://localhost:8765", None):  # the page itself; curl sends none
        headers = {"Origin": origin} if origin else {}
        assert client.post("/api/embed/text", json={"texts": ["a dog"]}, headers=headers).status_code == 200


def test_the_configured_host_and_allow_host_names_are_accepted(library_db: Path, loaded_clap) -> None:
    app = app_over(library_db, loaded_clap, host="192.0.2.7", token="long-enough-token",
                   allow_hosts=("sounds.lan",))
    good = {"Authorization": "Bearer long-enough-token"}
    for host, status in (("192.0.2.7:8765", 200), ("sounds.lan", 200), ("evil.attacker.example", 400)):
        assert TestClient(app, base_url=f"http://{host}").get("/api/collections", headers=good).status_code == status


@pytest.mark.parametrize("options,expected", [
    ({}, ["127.0.0.1", "[::1]", "localhost"]),
    ({"host": "::1"}, ["127.0.0.1", "[::1]", "localhost"]),
    ({"host": "192.0.2.7", "no_auth": True}, ["127.0.0.1", "192.0.2.7", "[::1]", "localhost"]),
    ({"host": "fe80::1", "no_auth": True, "allow_hosts": ("Sounds.LAN",)},
     ["127.0.0.1", "[::1]", "[fe80::1]", "localhost", "sounds.lan"]),
    ({"host": "0.0.0.0", "token": "long-enough-token"}, ["*"]),  # every address: the token guards it
    ({"host": "0.0.0.0", "no_auth": True, "allow_hosts": ("box.lan",)}, ["127.0.0.1", "[::1]", "box.lan",
                                                                          "localhost"]),
])
def test_allowed_hosts(options: dict, expected: list[str], tmp_path: Path) -> None:
    from clapcli.serve import allowed_hosts

    assert sorted(allowed_hosts(ServeOptions(tmp_path / "x.db", **options))) == expected


def test_every_address_without_token_needs_allow_host(tmp_path: Path) -> None:
    from clapcli.errors import UsageError
    from clapcli.serve import check_options

    with pytest.raises(UsageError, match="use with allow_hosts NAME"):
        check_options(ServeOptions(tmp_path / "x.db", host="0.0.0.0", no_auth=True))


def test_cli_every_address_without_token_or_allow_host_exits_2(cli, library_db: Path) -> None:
    result = cli(["serve", "--db", library_db, "--host", "0.0.0.0", "--no-auth"])
    assert result.exit_code == 2 and "--allow-host NAME" in result.stderr
