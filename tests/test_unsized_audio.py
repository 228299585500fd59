"""Files whose header does not tell the truth about their length: a FLAC from a streaming encoder
(``total_samples = 0``, which libsndfile reports as ~2**63 frames) is decoded to its real end, in memory
that stays flat, and gives the numbers of the same audio with a proper header; a WAV whose header
promises more data than the file holds is read with one warning naming it. Every run here happens in a
child process under a 4 GiB address-space limit, never against the machine's memory."""

from __future__ import annotations

import csv
import io
import json
import resource
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

LIMIT = 4 << 30
RATE = 8000


def unsized_copy(flac: Path, out: Path) -> Path:
    """``flac`` with STREAMINFO's total_samples (the low 36 bits of bytes 18..25) set to 0."""
    data = bytearray(flac.read_bytes())
    assert data[:4] == b"fLaC"
    (packed,) = struct.unpack(">Q", bytes(data[18:26]))
    data[18:26] = struct.pack(">Q", packed & ~((1 << 36) - 1))
    out.write_bytes(bytes(data))
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("unsized")
    rng = np.random.default_rng(3)
    out = {}
    for name, seconds in (("short", 3.0), ("long", 70.0)):  # 70 s: past the streaming threshold
        t = np.arange(int(seconds * RATE)) / RATE
        samples = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
        sized = directory / name / "sized.flac"
        sized.parent.mkdir()
        sf.write(sized, samples, RATE)
        out[f"{name}-sized"] = sized
        out[f"{name}-unsized"] = unsized_copy(sized, directory / name / "unsized.flac")
    return out


def limited_clap(*args: object) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    return subprocess.run([sys.executable, "-m", "clapcli", *map(str, args)], capture_output=True, text=True,
                          preexec_fn=limit, timeout=300)


def test_the_fixture_really_hides_its_length(pair: dict[str, Path]) -> None:
    assert sf.info(str(pair["short-unsized"])).frames >= 1 << 62


def test_decoded_samples_equal_the_sized_file(pair: dict[str, Path]) -> None:
    from clapcli.audio.decode import load_audio, open_audio

    for name in ("short", "long"):
        sized, unsized = load_audio(pair[f"{name}-sized"], 48000), load_audio(pair[f"{name}-unsized"], 48000)
        assert np.array_equal(sized.samples, unsized.samples)
        stream = open_audio(pair[f"{name}-unsized"], 48000)
        assert stream.length == len(sized.samples)
        assert np.array_equal(np.concatenate(list(stream.blocks())), sized.samples)


@pytest.mark.parametrize("long_audio", ["mean", "head"])
def test_classify_under_a_memory_limit_gives_the_sized_files_scores(pair, tiny_clap: Path, long_audio: str) -> None:
    run = limited_clap("classify", pair["long-sized"], pair["long-unsized"], pair["short-sized"],
                       pair["short-unsized"], "-l", "tone,noise,speech", "--model", tiny_clap,
                       "--long-audio", long_audio, "-f", "jsonl")
    assert run.returncode == 0, run.stderr
    scores = {}
    for line in run.stdout.splitlines():
        record = json.loads(line)
        scores[record["path"]] = [p["score"] for p in record["predictions"]]
    for name in ("short", "long"):
        assert scores[str(pair[f"{name}-unsized"])] == pytest.approx(scores[str(pair[f"{name}-sized"])], abs=1e-6)


def test_detect_under_a_memory_limit_gives_the_sized_files_frames(pair, tiny_clap: Path, tmp_path: Path) -> None:
    frames = {}
    for kind in ("sized", "unsized"):
        frames[kind] = tmp_path / f"{kind}.csv"
        run = limited_clap("detect", pair[f"short-{kind}"], "-l", "tone,noise", "--model", tiny_clap, "--window", "1",
                           "--frames", frames[kind], "-o", tmp_path / f"{kind}-events.csv")
        assert run.returncode == 0, run.stderr
    rows = {kind: list(csv.reader(io.StringIO(frames[kind].read_text())))[1:] for kind in frames}
    assert len(rows["sized"]) == 5  # 3 s in 1 s windows every 0.5 s
    assert [r[1:] for r in rows["unsized"]] == [r[1:] for r in rows["sized"]]


def test_a_wav_shorter_than_its_header_is_read_with_one_warning(tmp_path: Path, tiny_clap: Path) -> None:
    whole = tmp_path / "whole.wav"
    sf.write(whole, (0.3 * np.sin(np.arange(3 * RATE) / 5)).astype(np.float32), RATE, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    from clapcli.audio.decode import load_audio

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decoded = load_audio(cut, None)
    assert len(decoded.samples) == 11989
    assert [str(w.message) for w in caught] == [
        f"{cut}: ends early (23978 of the 48000 data bytes its header announces); the missing end is ignored"]
    run = limited_clap("classify", cut, "-l", "a,b", "--model", tiny_clap, "-f", "csv")
    assert run.returncode == 0
    assert run.stderr.count(f"{cut}: ends early") == 1
    assert len(run.stdout.splitlines()) == 3
