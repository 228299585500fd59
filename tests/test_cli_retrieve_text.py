"""``retrieve --text QUERY`` takes a query as ``embed --text`` does; ``--as-text`` makes every query text;
0.1's bare ``--text`` flag keeps working one release with a warning (issue 14, one option vocabulary)."""

from __future__ import annotations

import csv
import io

import pytest


@pytest.fixture
def library(cli, tiny_clap, audio_files, tmp_path):
    db = tmp_path / "lib.db"
    files = [audio_files[k] for k in ("flac", "ogg")]
    assert cli(["embed", *files, "--db", db, "-m", tiny_clap, "--device", "cpu", "-q"]).exit_code == 0
    return db, files


def _rows(result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_text_takes_a_query_like_embed(cli, library):
    db, _ = library
    positional = _rows(cli(["retrieve", "a dog", "--db", db, "-f", "csv"]))
    for flag in ("--text", "-t"):
        assert _rows(cli(["retrieve", flag, "a dog", "--db", db, "-f", "csv"])) == positional
    both = _rows(cli(["retrieve", "-t", "a dog", "-t", "rain", "--db", db, "-f", "csv", "-k", "1"]))
    assert [r["query"] for r in both] == ["a dog", "rain"]


def test_text_names_a_file_and_still_searches_it_as_text(cli, library):
    db, files = library
    as_file = _rows(cli(["retrieve", files[0], "--db", db, "-f", "csv", "-k", "1"]))
    as_text = _rows(cli(["retrieve", "--text", files[0], "--db", db, "-f", "csv", "-k", "1"]))
    forced = _rows(cli(["retrieve", files[0], "--as-text", "--db", db, "-f", "csv", "-k", "1"]))
    assert as_text == forced
    assert as_text[0]["score"] != as_file[0]["score"]  # a text embedding, not the file's


@pytest.mark.parametrize("tail", [[], ["-k", "1"]])
def test_the_old_bare_flag_works_with_a_warning(cli, library, tail):
    db, files = library
    old = cli(["retrieve", files[0], "--db", db, "-f", "csv", "-k", "1", "--text", *tail])
    new = cli(["retrieve", files[0], "--db", db, "-f", "csv", "-k", "1", "--as-text", *tail])
    assert _rows(old) == _rows(new)
    assert "warning: a bare 'retrieve --text' is now --as-text" in old.stderr
    quiet = cli(["retrieve", files[0], "--db", db, "-f", "csv", "--text", "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_no_query_at_all_is_a_usage_error(cli, library):
    db, _ = library
    result = cli(["retrieve", "--db", db])
    assert result.exit_code == 2
    assert "Missing argument 'QUERIES...': give texts or media files, or --text QUERY." in result.stderr
    assert "Try 'clap retrieve --help' for help." in result.stderr


def test_a_missing_file_query_names_the_text_spelling(cli, library):
    db, _ = library
    result = cli(["retrieve", "missing.wav", "--db", db])
    assert result.exit_code == 2
    assert "give it as --text 'missing.wav' to search it as text" in result.stderr


def test_the_python_api_leaves_the_query_file_out_too(library):
    from clapcli.api import retrieve

    db, files = library
    plain = retrieve([str(files[0])], db=db, k=1)[0]
    with_self = retrieve([str(files[0])], db=db, k=2, include_self=True)[0]
    assert [h.target for h in with_self.hits] == [str(files[0]), str(files[1])]
    assert [(h.rank, h.target) for h in plain.hits] == [(1, str(files[1]))]
    assert plain.hits[0].score == with_self.hits[1].score
