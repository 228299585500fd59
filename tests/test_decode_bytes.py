"""``audio.decode`` on bytes and binary file objects: the same samples and messages as on the path."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from clapcli.audio.decode import load_audio, open_audio
from clapcli.errors import InputError


class _Pipe(io.RawIOBase):
    """A readable, non-seekable stream (like stdin or a socket)."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        chunk = self.inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _inputs(path: Path) -> dict[str, object]:
    data = path.read_bytes()
    return {"bytes": data, "bytearray": bytearray(data), "memoryview": memoryview(data),
            "BytesIO": io.BytesIO(data), "pipe": io.BufferedReader(_Pipe(data))}


def test_every_format_decodes_to_the_same_samples(audio_files: dict[str, Path]) -> None:
    for name, path in audio_files.items():  # m4a goes through PyAV reading the file object
        expected = load_audio(path, 48000)
        for kind, audio in _inputs(path).items():
            got = load_audio(audio, 48000, name=str(path))
            assert got.samples.dtype == np.float32, (name, kind)
            assert np.array_equal(got.samples, expected.samples), (name, kind)
            assert (got.sample_rate, got.source_rate) == (expected.sample_rate, expected.source_rate)


def test_a_stream_of_bytes_is_read_in_blocks_and_can_be_read_twice(audio_files: dict[str, Path],
                                                                   monkeypatch) -> None:
    import clapcli.audio.decode as decode

    monkeypatch.setattr(decode, "BLOCK_FRAMES", 4096)  # several blocks for a 2 s clip
    path = audio_files["wav_stereo_44k"]
    expected = load_audio(path, 48000).samples
    with path.open("rb") as file:
        stream = open_audio(file, 48000)
        blocks = list(stream.blocks())
        assert len(blocks) > 10 and stream.length == len(expected)
        assert np.array_equal(np.concatenate(blocks), expected)
        assert np.array_equal(stream.read(), expected)  # rewound, not left at its end
        assert not file.closed  # the caller's file stays the caller's


def test_broken_inputs_fail_with_the_local_messages(broken_files: dict[str, Path]) -> None:
    for name, path in broken_files.items():
        with pytest.raises(InputError) as local:
            load_audio(path, 48000)
        for kind, audio in _inputs(path).items():
            with pytest.raises(InputError) as other:
                load_audio(audio, 48000, name=str(path))
            assert str(other.value) == str(local.value), (name, kind)


def test_names_default_to_the_file_object_name_or_bytes(audio_files: dict[str, Path],
                                                        broken_files: dict[str, Path]) -> None:
    with broken_files["not_audio"].open("rb") as file, pytest.raises(InputError) as info:
        load_audio(file, 48000)
    assert str(info.value) == f"{broken_files['not_audio']}: not a readable audio file (Format not recognised.)"
    with pytest.raises(InputError, match=r"^<bytes>: empty file \(0 bytes\)$"):
        load_audio(b"", 48000)
    with pytest.raises(InputError, match=r"^clip\.wav: empty file \(0 bytes\)$"):
        open_audio(io.BytesIO(), 48000, name="clip.wav")
    missing = audio_files["flac"].with_name("missing.flac")
    with pytest.raises(InputError, match=f"^{missing}: no such file$"):
        load_audio(missing, 48000, name="other")  # a path is always named by itself
