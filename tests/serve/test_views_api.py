"""The page's views through their JSON API: the map, the duplicates (equal to ``clap dedupe --db``), the
tags (equal to what ``clap tag`` stored) and ``where`` filters on searches (equal to ``clap retrieve
--where``). The library: melodies and re-encoded copies of some (tests.library_tools.sounds), one file
named as HTML; collection 'default' tagged (one label is HTML too), 'plain' untagged."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.library_tools.sounds import melody, tree_digest, write

HOSTILE_FILE = """<img src=x onerror="window.pwned=1">'m.wav"""
HOSTILE_TAG = """<img src=y onerror="window.pwned=2">"""
LABELS = ["rain", "piano", HOSTILE_TAG]


@pytest.fixture(scope="module")
def views_library(tmp_path_factory: pytest.TempPathFactory, tiny_clap: Path) -> tuple[Path, Path]:
    from typer.testing import CliRunner

    from clapcli.cli import app

    root = tmp_path_factory.mktemp("views") / "sounds"
    write(root / "a" / "one.wav", melody(1), subtype="PCM_16")
    write(root / "copies" / "one-24.flac", melody(1), subtype="PCM_24")
    write(root / "copies" / "one.ogg", melody(1))
    write(root / "a" / "two.wav", melody(2), subtype="PCM_16")
    write(root / "copies" / "two-8bit.wav", melody(2), subtype="PCM_U8")
    write(root / "b" / "three.wav", melody(3, seconds=9.0))
    write(root / "odd" / HOSTILE_FILE, melody(4, seconds=4.0))
    db = root.parent / "views.db"
    labels = root.parent / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n", encoding="utf-8")

    def cli(*args: object) -> None:
        result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr

    cli("embed", root, "--db", db, "--model", tiny_clap, "--quiet")
    cli("embed", root, "--db", db, "--model", tiny_clap, "--collection", "plain", "--quiet")
    cli("tag", "--db", db, "--model", tiny_clap, "--labels-file", labels, "--quiet")
    return root, db


@pytest.fixture(scope="module")
def views_client(views_library, loaded_clap):
    from fastapi.testclient import TestClient

    from clapcli.serve import ServeOptions, build

    app = build(ServeOptions(views_library[1], check_interval=0.0), loader=lambda model_id: loaded_clap)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        yield client
    app.fastapi.state.engine.close()


def settled(client, url: str):
    """The response once computed (202 while it is)."""
    for _ in range(600):
        response = client.get(url)
        if response.status_code != 202:
            return response
        assert "being computed" in response.json()["computing"]
        threading.Event().wait(0.1)
    raise AssertionError(f"{url} still computing")


def ready(client, url: str) -> dict:
    response = settled(client, url)
    assert response.status_code == 200, response.text
    return response.json()


def cli_json(*args: object) -> list[dict]:
    from typer.testing import CliRunner

    from clapcli.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# ---------------------------------------------------------------- duplicates


@pytest.mark.parametrize("threshold", [None, 0.999])
def test_duplicates_are_what_clap_dedupe_finds(views_library, views_client, threshold) -> None:
    root, db = views_library
    before = tree_digest(root)
    query = "" if threshold is None else f"&threshold={threshold}"
    found = ready(views_client, f"/api/duplicates?collection=plain{query}")
    rows = cli_json("dedupe", "--db", db, "--collection", "plain", "--format", "json",
                    *(["--threshold", threshold] if threshold is not None else []))
    expected = {}
    for row in rows:
        expected.setdefault(row["group"], []).append((row["path"], row["keep"], row["reason"]))
    served = {g["number"]: [(m["path"], m["keep"], m["reason"]) for m in g["members"]] for g in found["groups"]}
    assert served == expected and found["total"] == len(expected)
    if threshold is None:  # the copies of one and two, each with its keeper first
        assert found["threshold"] == 0.98 and len(expected) == 2
        first = found["groups"][0]["members"]
        assert first[0]["keep"] and first[0]["relpath"] == "copies/one-24.flac"
        assert first[0]["reason"].startswith("keep: ")
        ogg = next(m for m in first if m["relpath"] == "copies/one.ogg")
        assert ogg["reason"] == "lower: lossless (FLAC PCM_24) over lossy (OGG VORBIS)"
        assert ogg["audio_url"] == f"api/audio/plain/{ogg['id']}"
        assert views_client.get(ogg["audio_url"].replace("api/", "/api/", 1)).status_code == 200
    assert tree_digest(root) == before  # read-only: nothing on disk changed


def test_duplicates_refuse_a_bad_threshold_and_page(views_client) -> None:
    for bad in ("0", "1.5", "x"):
        response = views_client.get(f"/api/duplicates?threshold={bad}")
        assert response.status_code == 422 and response.json()["error"].startswith("threshold")
    page = ready(views_client, "/api/duplicates?collection=plain&offset=1&limit=1")
    assert page["total"] == 2 and [g["number"] for g in page["groups"]] == [2]


def test_a_computation_is_started_once_and_answers_202_until_done(views_client, monkeypatch) -> None:
    from clapcli.serve import views_map

    jobs = views_client.app.fastapi.state.jobs
    gate = threading.Event()
    real = views_map.compute_map

    def slow(*args, **kwargs):
        gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(views_map, "compute_map", slow)
    monkeypatch.setattr("clapcli.serve.jobs.WAIT", 0.05)
    started = jobs.started
    url = "/api/map?collection=plain&color=folder&method=pca"
    first, second = views_client.get(url), views_client.get(url)
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.headers["retry-after"] == "1" and "the map of 'plain'" in first.json()["computing"]
    assert jobs.started == started + 1  # one computation for both requests
    gate.set()
    assert ready(views_client, url)["shown"] == 7


# ---------------------------------------------------------------- map


def test_the_map_is_the_pca_of_the_collection_coloured_by_folder(views_library, views_client) -> None:
    from clapcli.core.mapping import project
    from clapcli.store import open_store

    found = ready(views_client, "/api/map?collection=plain")
    assert (found["color"], found["method"], found["total"], found["shown"]) == ("folder", "pca", 7, 7)
    with open_store(views_library[1], readonly=True) as store:
        stored = store.collection("plain", create=False).load_matrix(cache=False)
    expected = project(stored.vectors, "pca")
    expected = (expected - expected.min(0)) / (expected.max(0) - expected.min(0))
    by_id = {p["id"]: (p["x"], p["y"]) for p in found["points"]}
    np.testing.assert_allclose([by_id[int(i)] for i in stored.ids], expected, atol=1e-4)
    groups = [g["name"] for g in found["groups"]]
    assert sorted(groups) == ["a", "b", "copies", "odd"] and [g["count"] for g in found["groups"]][0] == 3
    assert {p["relpath"] for p in found["points"]} >= {"copies/one.ogg", f"odd/{HOSTILE_FILE}"}
    assert all(groups[p["group"]] == p["relpath"].split("/")[0] for p in found["points"])


def test_the_map_of_a_tagged_collection_is_coloured_by_each_items_best_tag(views_library, views_client) -> None:
    found = ready(views_client, "/api/map")
    assert found["color"] == "tag"
    best = dict(sqlite3.connect(views_library[1]).execute(
        "SELECT item_id, label FROM (SELECT item_id, label, max(score) FROM tags GROUP BY item_id)"))
    names = [g["name"] for g in found["groups"]]
    assert {p["id"]: names[p["group"]] for p in found["points"]} == {i: best[i] for i in best if i in
                                                                     {p["id"] for p in found["points"]}}
    assert len(found["points"]) == 7 and set(names) <= set(LABELS)
    folders = ready(views_client, "/api/map?color=folder")
    assert folders["color"] == "folder"


def test_the_map_refuses_tags_it_does_not_have_and_bad_choices(views_client) -> None:
    response = settled(views_client, "/api/map?collection=plain&color=tag")
    assert response.status_code == 400 and "clap tag --db" in response.json()["error"]
    assert views_client.get("/api/map?method=mds").status_code == 422
    assert views_client.get("/api/map?collection=nope").status_code == 404


def test_a_large_collection_is_mapped_through_an_even_sample(views_library) -> None:
    from clapcli.serve.library import LibraryState
    from clapcli.serve.views_map import compute_map, sample_rows

    library = LibraryState(views_library[1])
    snap = library.snapshot("plain")
    small = compute_map(library, snap, "pca", "folder", limit=4)
    assert (small.total, small.shown) == (7, 4) and sum(g.count for g in small.groups) == 4
    assert sample_rows(10, 4).tolist() == sample_rows(10, 4).tolist() and len(set(sample_rows(10, 4))) == 4


# ---------------------------------------------------------------- tags


def test_tags_list_their_counts_and_items_above_a_score(views_library, views_client) -> None:
    found = views_client.get("/api/tags").json()
    assert [t["label"] for t in found["labels"]] == LABELS and found["tagged"] == found["items"] == 7
    assert sum(t["top"] for t in found["labels"]) == 7 and found["hint"] is None
    db = sqlite3.connect(views_library[1])
    for label in LABELS:
        scores = dict(db.execute("SELECT item_id, score FROM tags WHERE label = ?", (label,)))
        low = float(np.median(list(scores.values())))
        page = views_client.get("/api/tags/items", params={"label": label, "min": low, "k": 100}).json()
        expected = sorted((i for i, s in scores.items() if s >= low), key=lambda i: (-scores[i], i))
        assert [h["id"] for h in page["hits"]] == expected and page["total"] == len(expected)
        assert [h["score"] for h in page["hits"]] == pytest.approx([scores[i] for i in expected])
    second = views_client.get("/api/tags/items", params={"label": "rain", "min": 0, "k": 2, "offset": 2}).json()
    assert [h["rank"] for h in second["hits"]] == [3, 4]


def test_tags_say_how_to_make_them_and_refuse_unknown_labels(views_library, views_client) -> None:
    plain = views_client.get("/api/tags?collection=plain").json()
    assert plain["labels"] == [] and plain["tagged"] == 0
    assert plain["hint"].startswith("no tags in this collection yet: run 'clap tag --db ")
    missing = views_client.get("/api/tags/items", params={"label": "snow"})
    assert missing.status_code == 404 and "no tag 'snow'" in missing.json()["error"]
    assert views_client.get("/api/tags/items", params={"label": "rain", "collection": "plain"}).status_code == 404
    assert views_client.get("/api/tags/items", params={"label": "rain", "min": 2}).status_code == 422


# ---------------------------------------------------------------- filters on searches


@pytest.mark.parametrize("where", [["duration<5"], ["folder:copies"], [f"tag:{HOSTILE_TAG}>MEDIAN", "duration>3"]])
def test_filtered_searches_equal_clap_retrieve_where(views_library, views_client, tiny_clap, where) -> None:
    db = views_library[1]
    median = np.median([s for (s,) in sqlite3.connect(db).execute("SELECT score FROM tags WHERE label = ?",
                                                                   (HOSTILE_TAG,))])
    where = [w.replace("MEDIAN", f"{median:.6f}") for w in where]  # random weights: scores near 1/3
    served = views_client.get("/api/search/text", params={"q": "a melody", "k": 10, "where": where}).json()
    expected = cli_json("retrieve", "a melody", "--db", db, "--model", tiny_clap, "-k", 10, "--format", "json",
                        *[part for w in where for part in ("--where", w)])
    assert [h["path"] for h in served["hits"]] == [r["path"] for r in expected] and expected
    assert len(expected) < 7  # the filter left some out
    assert [h["score"] for h in served["hits"]] == pytest.approx([r["score"] for r in expected], abs=1e-5)
    similar = views_client.get("/api/search/similar/1", params={"k": 10, "where": where}).json()
    expected_similar = dict(brute_force_similar(db, 1, where))
    assert {h["id"] for h in similar["hits"]} == set(expected_similar)  # (near-ties may swap places)
    assert [h["score"] for h in similar["hits"]] == pytest.approx([expected_similar[h["id"]] for h in similar["hits"]],
                                                                  abs=1e-5)
    assert [h["score"] for h in similar["hits"]] == sorted((h["score"] for h in similar["hits"]), reverse=True)


def brute_force_similar(db: Path, item: int, where: list[str]) -> list[tuple[int, float]]:
    """Every matching row but the item itself, by cosine with the item's vector, best first."""
    from clapcli.core.filters import collection_filter, parse_where
    from clapcli.store import open_store

    with open_store(db, readonly=True) as store:
        collection = store.collection("default", create=False)
        allowed = collection_filter(collection, parse_where(where))
        stored = collection.load_matrix(cache=False)
    vectors = dict(zip(stored.ids.tolist(), stored.vectors, strict=True))
    scored = [(int(i), float(vectors[i] @ vectors[item])) for i in allowed if i != item]
    return sorted(scored, key=lambda pair: -pair[1])[:10]


def test_bad_filters_answer_one_line(views_client) -> None:
    bad = views_client.get("/api/search/text", params={"q": "x", "where": "loudness>3"})
    assert bad.status_code == 400 and "'loudness>3' is not a filter" in bad.json()["error"]
    untagged = views_client.get("/api/search/text", params={"q": "x", "collection": "plain", "where": "tag:rain>0.1"})
    assert untagged.status_code == 400 and "clap tag --db" in untagged.json()["error"]
    many = views_client.get("/api/search/text", params={"q": "x", "where": ["duration<9"] * 9})
    assert many.status_code == 413 and "at most 8" in many.json()["error"]


def test_a_segment_library_maps_its_windows_and_has_no_duplicates_view(tmp_path, tiny_clap, loaded_clap) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from clapcli.cli import app
    from clapcli.serve import ServeOptions, build

    write(tmp_path / "long" / "one.wav", melody(1, seconds=3.0))
    write(tmp_path / "long" / "two.wav", melody(2, seconds=3.0))
    db = tmp_path / "segments.db"
    result = CliRunner().invoke(app, ["embed", str(tmp_path / "long"), "--db", str(db), "--model", str(tiny_clap),
                                      "--segments", "1", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    served = build(ServeOptions(db, check_interval=0.0), loader=lambda model_id: loaded_clap)
    with TestClient(served, base_url="http://127.0.0.1:8765") as client:
        found = ready(client, "/api/map")
        windows = sqlite3.connect(db).execute('SELECT id, source, "start" FROM items').fetchall()
        assert found["shown"] == len(windows) > 2
        assert {(p["id"], p["relpath"], p["start"]) for p in found["points"]} == {
            (i, Path(source).name, start) for i, source, start in windows}
        response = settled(client, "/api/duplicates")
        assert response.status_code == 400 and "one vector per window" in response.json()["error"]
    served.fastapi.state.engine.close()


def test_the_views_are_behind_the_token_like_every_route(views_library, loaded_clap) -> None:
    from fastapi.testclient import TestClient

    from clapcli.serve import ServeOptions, build

    app = build(ServeOptions(views_library[1], token="s3cret-token"), loader=lambda model_id: loaded_clap)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        for url in ("/api/map", "/api/duplicates", "/api/tags", "/api/tags/items?label=rain"):
            assert client.get(url).status_code == 401
        assert client.get("/api/tags", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert client.get("/api/tags?token=s3cret-token").json()["tagged"] == 7
        evil = client.get("/api/tags?token=s3cret-token", headers={"Host": "evil.example"})
        assert evil.status_code == 400  # DNS rebinding: refused before any route
    app.fastapi.state.engine.close()


def test_fingerprints_are_kept_per_file_state(tmp_path) -> None:
    from clapcli.serve.views_dups import _KeptFingerprints

    calls: list[str] = []
    kept = _KeptFingerprints(lambda path: calls.append(path) or np.array([len(calls)], np.uint32))
    path = write(tmp_path / "a.wav", melody(1, seconds=1.0))
    assert kept(str(path)).tolist() == [1] and kept(str(path)).tolist() == [1] and len(calls) == 1
    write(path, melody(2, seconds=2.0))  # changed on disk: fingerprinted again
    assert kept(str(path)).tolist() == [2] and len(calls) == 2
