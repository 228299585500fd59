"""What C libraries print to fd 2 (libmpg123's notes on a damaged MP3) is folded into one of our
``warning:`` lines, and gone with --quiet (issue 14, --quiet and "never printed raw"). Real processes:
the lines come from C, below Python's warning and logging machinery."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from clapcli.console.native_stderr import decoder_summary

RAW = ("Illegal Audio-MPEG-Header", "Trying to resync", "src/libmpg123")


@pytest.fixture(scope="module")
def damaged_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mp3")
    good = folder / "good.mp3"
    sf.write(good, (np.random.default_rng(0).standard_normal(48000 * 3) * 0.1).astype("float32"), 48000,
             format="MP3")
    data = bytearray(good.read_bytes())
    rng = random.Random(0)
    for start in range(2000, len(data) - 100, 3000):  # garbage over a few frame headers
        data[start:start + 40] = bytes(rng.randrange(256) for _ in range(40))
    bad = folder / "damaged.mp3"
    bad.write_bytes(bytes(data))
    return bad


def _clap(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clapcli", *map(str, args)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)


def test_the_decoder_really_prints_to_fd_2(damaged_mp3):
    probe = subprocess.run([sys.executable, "-c", f"import soundfile; soundfile.read({str(damaged_mp3)!r})"],
                           capture_output=True, text=True, timeout=60)
    assert "Illegal Audio-MPEG-Header" in probe.stderr  # what users saw before


def test_damaged_mp3_notes_are_one_warning_line(tiny_clap, damaged_mp3, audio_files, tmp_path):
    out = tmp_path / "e.csv"
    result = _clap("embed", damaged_mp3, audio_files["flac"], "-m", tiny_clap, "-o", out)
    assert result.returncode == 0, result.stderr
    assert not any(raw in line and not line.startswith("warning:") for line in result.stderr.splitlines()
                   for raw in RAW), result.stderr
    folded = [line for line in result.stderr.splitlines() if "damaged frames" in line]
    assert len(folded) == 1 and folded[0].startswith("warning: an MP3 input has damaged frames")
    assert "Illegal Audio-MPEG-Header" in folded[0]
    assert len(out.read_text().splitlines()) == 3  # both inputs embedded (header + 2 rows)


def test_quiet_leaves_nothing_of_them(tiny_clap, damaged_mp3, tmp_path):
    result = _clap("embed", damaged_mp3, "-m", tiny_clap, "-o", tmp_path / "e.csv", "--quiet")
    assert result.returncode == 0
    assert result.stderr == ""


def test_errors_still_reach_stderr_through_the_fold(tiny_clap, tmp_path):
    result = _clap("embed", tmp_path / "missing.wav", "-m", tiny_clap, "-o", tmp_path / "e.csv", "--quiet")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"failed: {tmp_path / 'missing.wav'}: no such file or directory",
                                          "error: every input failed (1 input, each named above)"]


def test_other_native_lines_are_warnings_and_fatal_reports_pass_whole():
    code = ("import os\nfrom clapcli.console.native_stderr import folded_native_stderr\n"
            "with folded_native_stderr(lambda m: print('warning:', m, file=__import__('sys').stderr)):\n"
            "    os.write(2, b'some C library: \\x1b[31mred\\n')\n"
            "    os.write(2, b'Fatal Python error: example\\n')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stderr.splitlines() == ["warning: some C library: \\x1b[31mred", "Fatal Python error: example"]


def test_decoder_summary_names_the_first_problem_and_counts_the_rest():
    lines = ["Note: Trying to resync...", "Note: Illegal Audio-MPEG-Header 0x1 at offset 5.", "Note: Skipped 3 bytes"]
    assert decoder_summary(lines) == ("an MP3 input has damaged frames: the decoder skipped them and went on "
                                      "(libmpg123: Illegal Audio-MPEG-Header 0x1 at offset 5.; 2 more decoder "
                                      "messages)")
    assert decoder_summary([]) is None


def test_library_log_records_are_one_warning_line_and_gone_with_quiet(cli, tiny_clap, monkeypatch):
    import logging

    from clapcli.models import loading

    real = loading.load

    def noisy(*args, **kwargs):  # a multi-line record, as transformers logs them (ERROR: above its verbosity)
        logging.getLogger("transformers.modeling_utils").error("Some weights were not used:\n- a\n- b")
        return real(*args, **kwargs)

    monkeypatch.setattr(loading, "load", noisy)
    args = ["embed", "--text", "dog", "-m", str(tiny_clap), "-f", "jsonl"]
    result = cli(args)
    assert result.exit_code == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "weights" in line] == [
        "warning: Some weights were not used: (transformers)"]
    assert "- a" not in result.stderr
    quiet = cli([*args, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_folding_leaves_other_handlers_on_library_loggers_alone(cli) -> None:
    """Only a library's own stderr handler is folded: a handler someone else put on its logger (a log
    file, pytest's capture, which since pytest 9.2 joins non-propagating loggers) still gets the records."""
    import logging

    kept: list[str] = []

    class Keep(logging.StreamHandler):  # a subclass, as pytest's LogCaptureHandler and FileHandler are
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record.getMessage())

    logger = logging.getLogger("transformers")
    before, late = Keep(), Keep()
    logger.addHandler(before)
    try:
        assert cli(["models"]).exit_code == 0  # the CLI folds the libraries' handlers
        logger.addHandler(late)  # added after the folding was set up
        logger.error("a library error")  # error: transformers' verbosity is error after any model load
    finally:
        logger.removeHandler(before)
        logger.removeHandler(late)
    assert kept == ["a library error", "a library error"]


def test_end_of_data_during_resync_is_decoder_chatter():
    from clapcli.console.native_stderr import _Reader

    shown: list[str] = []
    reader = _Reader(0, shown.append, shown.append)
    reader._line("Note: Hit end of (available) data during resync.")
    assert shown == [] and reader.decoder_lines == ["Note: Hit end of (available) data during resync."]
