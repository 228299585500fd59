"""Outputs never destroy what they were not asked to replace and never publish a cut-off file
(issue 12, items 2, 3, 5, 6, 13, 14; SIGTERM keeps what was computed)."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from clapcli.errors import OutputError
from clapcli.io.target import OutputFile, remove_stale_temps
from clapcli.io.writers import embedding_writer, record_writer
from clapcli.results import Embedding

ROW = Embedding("a.wav", "audio", np.array([0.6, 0.8], np.float32), "m", 1.5)


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part"))


def _embed_text(cli, tiny_clap, *args):
    return cli(["embed", "-m", tiny_clap, "--device", "cpu", "--text", "a dog", "--text", "rain", *args])


# ---------------------------------------------------------------- item 2: devices, FIFOs, links


def test_overwrite_writes_into_a_character_device_without_replacing_it(cli, tiny_clap, tmp_path):
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    result = _embed_text(cli, tiny_clap, "--output", device, "--format", "jsonl", "--overwrite")
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISCHR(os.stat(device).st_mode)  # still the device, not a regular file
    assert _parts(tmp_path) == []


def test_a_fifo_is_written_to_directly(cli, tiny_clap, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = _embed_text(cli, tiny_clap, "--output", fifo, "--format", "jsonl")  # no --overwrite needed
    reader.join(10)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["text"] for line in received[0].splitlines()] == ["a dog", "rain"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_symlink_is_followed_and_kept(cli, tiny_clap, tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    assert _embed_text(cli, tiny_clap, "--output", link).exit_code == 1  # exists: needs --overwrite
    assert real.read_text() == "old\n"
    assert _embed_text(cli, tiny_clap, "--output", link, "--overwrite").exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(real.read_text().splitlines()) == 2


def test_a_dangling_symlink_is_refused(tmp_path):
    link = tmp_path / "out.csv"
    link.symlink_to(tmp_path / "missing" / "x.csv")
    with pytest.raises(OutputError, match="symbolic link to a missing file"):
        OutputFile(link, overwrite=True, binary=False)


# ---------------------------------------------------------------- item 3: a file that appears meanwhile


def test_an_output_created_during_the_run_is_not_clobbered(tmp_path):
    out = tmp_path / "x.csv"
    writer = record_writer("csv", out, False, ["path"])
    writer.write({"path": "mine.wav"})
    out.write_text("someone else's\n")  # appears after the start-up check
    with pytest.raises(OutputError, match="appeared while this run was writing") as caught:
        writer.close()
    assert out.read_text() == "someone else's\n"
    kept = tmp_path / "x.1.csv"
    assert str(kept) in str(caught.value)
    assert kept.read_text().splitlines() == ["path", "mine.wav"]
    assert _parts(tmp_path) == []


# ---------------------------------------------------------------- items 5, 6: full disk, .part files


class _FullDisk:
    """A file that takes ``room`` bytes, then fails like a full disk."""

    def __init__(self, handle, room: int) -> None:
        self.handle, self.room = handle, room

    def write(self, data):
        if self.room - len(data) < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
def test_a_full_disk_publishes_nothing(cli, tiny_clap, tmp_path, monkeypatch, fmt):
    original = OutputFile._open
    monkeypatch.setattr(OutputFile, "_open", lambda self: _FullDisk(original(self), room=300))
    out = tmp_path / f"out.{fmt}"
    result = _embed_text(cli, tiny_clap, "--output", out)
    assert result.exit_code == 1
    assert f"--output {out}: could not write (No space left on device); nothing was written" in result.stderr
    assert "unexpected" not in result.stderr
    assert not out.exists()
    assert _parts(tmp_path) == []


def test_a_full_disk_while_the_npy_rows_are_written_leaves_nothing(cli, tiny_clap, tmp_path, monkeypatch):
    """Issue 23, item 8: the matrix was already in its temporary file when the rows CSV hit the full disk."""
    original = OutputFile._open

    def full_for_rows(self):
        handle = original(self)
        return _FullDisk(handle, room=10) if self.requested.name.endswith(".rows.csv") else handle

    monkeypatch.setattr(OutputFile, "_open", full_for_rows)
    out = tmp_path / "out.npy"
    result = _embed_text(cli, tiny_clap, "--output", out)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "out.npy.rows.csv: could not write (No space left on device)" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no matrix, no rows, no .part


def test_no_temporary_file_when_the_model_fails_to_load(cli, tmp_path):
    out = tmp_path / "out.jsonl"
    result = cli(["embed", "--text", "x", "-m", tmp_path / "no-such-model", "--output", out])
    assert result.exit_code == 1
    assert not out.exists() and _parts(tmp_path) == []


def test_stale_temporary_files_of_a_killed_run_are_removed(cli, tiny_clap, tmp_path):
    out = tmp_path / "out.jsonl"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.jsonl.{dead.pid}.0a1b2c3d.part"
    stale.write_text("half a row")
    alive = tmp_path / f".out.jsonl.{os.getpid()}.0a1b2c3d.part"  # a live writer's file stays
    alive.write_text("in progress")
    assert _embed_text(cli, tiny_clap, "--output", out).exit_code == 0
    assert not stale.exists() and alive.exists()
    assert remove_stale_temps(out) == []


def test_outputs_get_the_umask_permissions(cli, tiny_clap, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "out.csv"
        assert _embed_text(cli, tiny_clap, "--output", out).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_overwrite_keeps_the_replaced_file_permissions(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("old")
    out.chmod(0o640)
    with embedding_writer("jsonl", out, overwrite=True) as writer:
        writer.write(ROW)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert json.loads(out.read_text())["path"] == "a.wav"


# ---------------------------------------------------------------- SIGTERM / interruption


def test_termination_keeps_complete_rows(cli, tiny_clap, audio_files, tmp_path, monkeypatch):
    """SIGTERM unwinds like Ctrl-C: the rows computed so far are published, exit 143."""
    from clapcli.core import embed as core_embed
    from clapcli.errors import Terminated

    real = core_embed.embed_media

    def terminated_after_two(*args, **kwargs):
        for index, result in enumerate(real(*args, **kwargs)):
            if index == 2:
                raise Terminated()
            yield result

    monkeypatch.setattr(core_embed, "embed_media", terminated_after_two)
    out = tmp_path / "out.jsonl"
    files = [audio_files[k] for k in ("wav_pcm_16", "flac", "mp3", "ogg")]
    result = cli(["embed", "-m", tiny_clap, "--device", "cpu", *files, "--output", out])
    assert result.exit_code == 143
    assert "terminated" in result.stderr
    assert [json.loads(line)["path"] for line in out.read_text().splitlines()] == [str(f) for f in files[:2]]
    assert _parts(tmp_path) == []


def _blocked_reading_stdin(pid: int) -> bool:
    """The process sits in read(0, ...) (x86-64 and arm64 syscall numbers of read)."""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return len(fields) > 1 and fields[0] in ("0", "63") and int(fields[1], 16) == 0


def test_a_real_sigterm_exits_143_and_leaves_nothing_behind(tiny_clap, tmp_path):
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "clapcli", "embed", "-", "-m", str(tiny_clap), "--device", "cpu", "-o", str(out)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    deadline = time.monotonic() + 60
    while not _blocked_reading_stdin(process.pid):  # the model is loaded; paths are being read
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "terminated" in stderr
    assert not out.exists() and _parts(tmp_path) == []  # nothing was computed: nothing is published


# ---------------------------------------------------------------- items 13, 14: messages and JSON


def test_control_characters_in_names_are_escaped(cli, tiny_clap, tmp_path):
    bad = tmp_path / "evil\nname\x1b]0;owned\x07\x1b[31m.wav"
    bad.write_bytes(b"not audio at all")
    result = cli(["classify", "-m", tiny_clap, "--device", "cpu", bad, "--labels", "a,b"])
    assert result.exit_code == 1  # every input failed
    failure = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert len(failure) == 1  # one line, not split by the newline in the name
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "evil\\nname\\x1b]0;owned\\x07\\x1b[31m.wav" in failure[0]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_embed_json_outputs_list_failed_inputs(cli, tiny_clap, audio_files, broken_files, fmt):
    broken = broken_files["truncated"]
    result = cli(["embed", "-m", tiny_clap, "--device", "cpu", audio_files["wav_pcm_16"], broken, "--format", fmt])
    assert result.exit_code == 3
    rows = json.loads(result.stdout) if fmt == "json" else [json.loads(x) for x in result.stdout.splitlines()]
    by_path = {row["path"]: row for row in rows}
    assert set(by_path) == {str(audio_files["wav_pcm_16"]), str(broken)}
    assert len(by_path[str(audio_files["wav_pcm_16"])]["embedding"]) > 0
    assert by_path[str(broken)]["error"] and "embedding" not in by_path[str(broken)]
