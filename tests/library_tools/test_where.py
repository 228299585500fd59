"""``clap retrieve --where``: the grammar, and the filtered search equals a brute-force pass over every item."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clapcli.core.filters import Condition, in_folder, parse_where
from clapcli.errors import InvalidField
from clapcli.store import ItemRow, open_store
from clapcli.store.tags import TagSet, start_tag_set, write_scores

DIM = 8
LABELS = ["ambient", "drums"]


def test_the_grammar() -> None:
    assert parse_where(["tag:ambient>0.5", "duration <= 30", "folder:drums/kicks", "tag:warm pad!=1e-1"]) == [
        Condition("tag", "tag:ambient>0.5", "ambient", ">", 0.5),
        Condition("duration", "duration <= 30", "", "<=", 30.0),
        Condition("folder", "folder:drums/kicks", "drums/kicks"),
        Condition("tag", "tag:warm pad!=1e-1", "warm pad", "!=", 0.1)]
    for bad in ("tag:ambient", "duration~3", "size<3", "folder:", "tag:>0.5", "duration<abc"):
        with pytest.raises(InvalidField) as caught:
            parse_where([bad])
        assert f"'{bad}' is not a filter" in str(caught.value) and "tag:LABEL>0.5" in str(caught.value)


def test_folders() -> None:
    assert in_folder("/lib/drums/kicks/k1.wav", "drums") and in_folder("/lib/drums/kicks/k1.wav", "drums/kicks")
    assert not in_folder("/lib/drumsets/k1.wav", "drums") and not in_folder("/lib/kicks/drums.wav", "drums")
    assert in_folder("/lib/drums/k1.wav", "/lib") and not in_folder("/library/k1.wav", "/lib")


@pytest.fixture()
def library(tmp_path: Path) -> tuple[Path, dict]:
    """60 items in three folders, durations 1-60 s, tag scores drawn at random; the truth as a dict."""
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((60, DIM)).astype(np.float32)
    folders = ["drums/kicks", "pads", "drums/snares"]
    truth = {}
    db = tmp_path / "lib.db"
    with open_store(db) as store:
        collection = store.collection("default", "m", DIM)
        rows = [ItemRow(f"/lib/{folders[i % 3]}/{i:02d}.wav", "h", vectors[i], float(i + 1)) for i in range(60)]
        collection.upsert(rows)
        start_tag_set(collection, TagSet(LABELS, "{}", "m"))
        ids = {path: item for item, path in store.connection.execute("SELECT id, path FROM items")}
        scores = rng.uniform(size=(60, 2))
        write_scores(collection, [ids[r.path] for r in rows], LABELS, scores)
    for i, row in enumerate(rows):
        truth[row.path] = {"vector": vectors[i] / np.linalg.norm(vectors[i]), "duration": float(i + 1),
                           "ambient": scores[i, 0], "drums": scores[i, 1]}
    return db, truth


@pytest.mark.parametrize("where, keep", [
    (["tag:ambient>0.5"], lambda t, p: t["ambient"] > 0.5),
    (["duration<30", "folder:drums"], lambda t, p: t["duration"] < 30 and "/drums/" in p),
    (["tag:drums>=0.3", "tag:ambient<0.7", "folder:drums/snares"],
     lambda t, p: t["drums"] >= 0.3 and t["ambient"] < 0.7 and "/drums/snares/" in p),
    (["duration>100"], lambda t, p: False),
])
def test_filtered_search_equals_brute_force(cli, library, tmp_path, where, keep) -> None:
    db, truth = library
    query_path = next(iter(truth))
    query = truth[query_path]["vector"]
    expected = sorted(((float(t["vector"] @ query), p) for p, t in truth.items() if keep(t, p) and p != query_path),
                      reverse=True)[:10]
    from clapcli.core.filters import collection_filter
    from clapcli.core.retrieve import search_collection

    with open_store(db, readonly=True) as store:  # the search 'clap retrieve --where' runs, for this query vector
        collection = store.collection("default", create=False)
        hits = search_collection(collection, query[None], 11,
                                 allowed=collection_filter(collection, parse_where(where)))[0]
    got = [(h.score, h.target) for h in hits if h.target != query_path][:10]
    assert [p for _, p in got] == [p for _, p in expected]
    np.testing.assert_allclose([s for s, _ in got], [s for s, _ in expected], atol=1e-5)


def test_where_through_the_cli(cli, tiny_clap, audio_files, tmp_path) -> None:
    db = tmp_path / "lib.db"
    files = [audio_files[k] for k in sorted(audio_files)]
    assert cli(["embed", *files, "--db", db, "--model", tiny_clap, "-q"]).exit_code == 0
    assert cli(["tag", "--db", db, "--labels", ",".join(LABELS), "-q"]).exit_code == 0
    everything = json.loads(cli(["retrieve", "rain", "--db", db, "-k", "100", "--format", "json"]).stdout)
    filtered = cli(["retrieve", "rain", "--db", db, "-k", "100", "--format", "json", "--where", "duration<1.5",
                    "--where", "tag:ambient>=0.5"])
    assert filtered.exit_code == 0, filtered.stderr
    with open_store(db, readonly=True) as store:
        ok = {p for p, d, s in store.connection.execute(
            "SELECT i.path, i.duration, t.score FROM items i JOIN tags t ON t.item_id = i.id WHERE t.label = 'ambient'")
              if d is not None and d < 1.5 and s >= 0.5}
    assert [h["path"] for h in json.loads(filtered.stdout)] == [h["path"] for h in everything if h["path"] in ok]


def test_where_errors_are_one_line(cli, tiny_clap, audio_files, tmp_path) -> None:
    db = tmp_path / "lib.db"
    cli(["embed", audio_files[sorted(audio_files)[0]], "--db", db, "--model", tiny_clap, "-q"])
    bad = cli(["retrieve", "rain", "--db", db, "--where", "loudness>3"])
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("error: --where 'loudness>3' is not a filter (unknown field")
    untagged = cli(["retrieve", "rain", "--db", db, "--where", "tag:rain>0.1"])
    assert untagged.exit_code == 2 and "has no tag scores; run 'clap tag --db" in untagged.stderr
    cli(["tag", "--db", db, "--labels", "rain,dog", "-q"])
    unknown = cli(["retrieve", "rain", "--db", db, "--where", "tag:cat>0.1"])
    assert unknown.exit_code == 2 and "has no tag 'cat' (its tags: rain, dog)" in unknown.stderr
    approx = cli(["retrieve", "rain", "--db", db, "--where", "duration<3", "--approximate"])
    assert approx.exit_code == 2 and "drop --approximate" in approx.stderr
