"""Directory walks visit each real directory once and list each file once (issue 12, item 9).

Before: ``in/loop/sub/up -> ..`` made ``os.walk(followlinks=True)`` go round the loop until the
kernel's 40-link limit, listing the same file dozens of times (163 paths for 3 files here), and
``clap embed --db`` stored one row per name.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from audio_fixtures import tone, write_soundfile

from clapcli.io.readers import expand_inputs
from clapcli.media.kinds import AUDIO_EXTENSIONS
from clapcli.results import FailedInput as Failure

RATE = 48_000


@pytest.fixture()
def looped(tmp_path: Path) -> Path:
    """in/{a.wav, loop/{b.wav, sub/{c.wav, up -> ..}}, twin -> loop}: a loop and a duplicate link."""
    root = tmp_path / "in"
    (root / "loop" / "sub").mkdir(parents=True)
    for name, freq in (("a.wav", 440), ("loop/b.wav", 880), ("loop/sub/c.wav", 220)):
        write_soundfile(root / name, tone(0.5, RATE, freq), RATE)
    (root / "loop" / "sub" / "up").symlink_to("..")
    (root / "twin").symlink_to("loop")
    return root


def test_a_loop_and_a_duplicate_link_list_each_file_once(looped: Path) -> None:
    found = list(expand_inputs([str(looped)], AUDIO_EXTENSIONS))
    assert found == [looped / "a.wav", looped / "loop/b.wav", looped / "loop/sub/c.wav"]


def test_a_directory_inside_an_earlier_one_adds_nothing_and_is_no_failure(looped: Path) -> None:
    # Decided: one run lists a file once, across arguments; the first way that reaches it names it.
    found = list(expand_inputs([str(looped), str(looped / "twin"), str(looped / "loop/sub")], AUDIO_EXTENSIONS))
    assert found == [looped / "a.wav", looped / "loop/b.wav", looped / "loop/sub/c.wav"]


def test_a_later_directory_skips_files_already_named(looped: Path) -> None:
    found = list(expand_inputs([str(looped / "twin/b.wav"), str(looped / "loop")], AUDIO_EXTENSIONS))
    assert found == [looped / "twin/b.wav", looped / "loop/sub/c.wav"]


def test_files_named_explicitly_are_kept_as_given(looped: Path) -> None:
    # Explicit names (arguments, stdin lines, glob matches) are what the user asked for.
    stdin = io.StringIO(f"{looped / 'a.wav'}\n")
    found = list(expand_inputs([str(looped / "a.wav"), "-", str(looped / "*.wav")], AUDIO_EXTENSIONS, stdin=stdin))
    assert found == [looped / "a.wav"] * 3


def test_a_file_linked_twice_in_one_directory_is_listed_once(tmp_path: Path) -> None:
    write_soundfile(tmp_path / "real.wav", tone(0.5, RATE, 440), RATE)
    (tmp_path / "alias.wav").symlink_to("real.wav")
    (tmp_path / "dangling.wav").symlink_to("missing.wav")  # still listed: decoding names the problem
    assert list(expand_inputs([str(tmp_path)], AUDIO_EXTENSIONS)) == [tmp_path / "alias.wav", tmp_path / "dangling.wav"]


def test_a_directory_that_is_only_a_loop_reports_no_files(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "self").symlink_to(".")
    found = list(expand_inputs([str(tmp_path / "d")], AUDIO_EXTENSIONS))
    assert found == [Failure(str(tmp_path / "d"), "directory contains no supported files")]


def test_embed_db_stores_one_row_per_file_through_loops(looped: Path, tmp_path: Path, tiny_clap: Path, cli) -> None:
    db = tmp_path / "library.db"
    result = cli(["embed", looped, "--db", db, "--model", tiny_clap, "--quiet"])
    assert result.exit_code == 0, result.stderr
    connection = sqlite3.connect(db)
    try:
        paths = [row[0] for row in connection.execute("SELECT path FROM items ORDER BY path")]
    finally:
        connection.close()
    assert paths == [str(looped / "a.wav"), str(looped / "loop/b.wav"), str(looped / "loop/sub/c.wav")]
