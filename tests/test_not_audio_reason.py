"""A file that exists but holds no audio says so, not libsndfile's misleading reason (issue 23 item 14):
text bytes named .mp3 made libsndfile answer "File does not exist or is not a regular file (possibly a
pipe?)"."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["notes.mp3", "notes.ogg", "notes.wav"])
def test_text_named_like_audio_is_not_a_readable_audio_file(cli, tiny_clap, audio_files, tmp_path, name):
    fake = tmp_path / name
    fake.write_text("hello, this is a text file and not audio at all\n" * 20)
    good = audio_files["wav_pcm_16"]
    result = cli(["classify", good, fake, "-l", "a,b", "--model", tiny_clap, "-f", "csv"])
    assert result.exit_code == 3, result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1, result.stderr
    line = failed[0]
    assert line.startswith(f"failed: {fake}: not a readable audio file"), line
    assert "does not exist" not in line and "pipe" not in line and "Errno" not in line, line
    assert str(fake) not in line[len(f"failed: {fake}"):], line  # the decoder's copy of the path is dropped
    assert good.name in result.stdout
