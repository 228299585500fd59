"""Decode any audio file to mono float32 at the model's rate (docs/design.md §2).

soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis, Opus and MP3; PyAV, which bundles FFmpeg,
reads AAC/M4A and other containers so users need no system ffmpeg.

Files are read in blocks (``open_audio``): each block is downmixed and resampled as it arrives
(soxr's ``ResampleStream`` gives the same samples as its one-shot ``resample``, bit for bit), so a
long file is never held at its own rate or in several channels, and a caller that cuts windows
from the blocks never needs the whole clip at all.

The input is a path, bytes or a binary file object (``clapcli.audio.source``): the Ray engine decodes
the bytes its readers fetch with this same code, so both engines give the same samples and messages.

One piece (~390 lines): the libsndfile and FFmpeg paths share the block reader, the resampler, the
checks on rates and lengths and the one-line reasons, so both decoders fail and stream alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np

from clapcli.audio.source import AudioInput, Source, as_source, missing_reason  # noqa: F401  (re-exported)
from clapcli.errors import InputError
from clapcli.media.kinds import AUDIO_EXTENSIONS  # noqa: F401  (re-exported)

# Sample rates clapcli accepts. Outside them the header is damaged or the file is not audio, and soxr
# crashes the whole process (segfault) on ratios such as 1 Hz -> 48 kHz instead of raising.
MIN_RATE = 1000
MAX_RATE = 768000
# Source frames per read: large enough that per-call costs vanish, small beside any long file (2 MB stereo).
BLOCK_FRAMES = 1 << 18


class AudioTooLong(InputError):
    """The input holds more than the caller's ``max_seconds`` of audio (found before decoding it,
    from the header, or while decoding a format without one)."""

    def __init__(self, name: str, seconds: float, limit: float, exact: bool = True) -> None:
        self.name, self.seconds, self.limit = name, seconds, limit
        amount = f"{seconds:.0f} s" if exact else f"over {limit:g} s"
        super().__init__(f"{name}: {amount} of audio is more than the limit of {limit:g} s")


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # mono float32, shape (n,)
    sample_rate: int
    source_rate: int  # the file's own rate, before resampling

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class AudioStream:
    """One input as mono float32 blocks at ``sample_rate``, decoded on demand each time ``blocks()``
    is called: a long file is read block by block instead of whole."""

    name: str
    length: int  # samples at sample_rate (from the header: the resampled length of its frames)
    sample_rate: int
    source_rate: int
    open_blocks: Callable[[], Iterator[np.ndarray]]

    @classmethod
    def of_array(cls, name: str, samples: np.ndarray, sample_rate: int, source_rate: int) -> AudioStream:
        """Mono samples already in memory, served in blocks (views, no copies)."""
        return cls(name, len(samples), sample_rate, source_rate, partial(_array_blocks, samples))

    @property
    def duration(self) -> float:
        return self.length / self.sample_rate

    def blocks(self) -> Iterator[np.ndarray]:
        """Exactly ``length`` samples in blocks; ``InputError`` if the file ends early."""
        produced = 0
        for block in self.open_blocks():
            block = block[: self.length - produced]
            produced += len(block)
            if len(block):
                yield block
        if produced < self.length:
            raise InputError(f"{self.name}: ended after {produced} of the {self.length} samples its header "
                             "announces; the file is truncated")

    def read(self) -> np.ndarray:
        """All samples in one array (as many as the decoder gives, like ``soundfile.read``)."""
        out = np.empty(self.length, dtype=np.float32)
        filled = 0
        for block in self.open_blocks():
            block = block[: self.length - filled]
            out[filled : filled + len(block)] = block
            filled += len(block)
        if filled == 0:
            raise InputError(f"{self.name}: contains no audio samples")
        return out[:filled]


def load_audio(audio: AudioInput, sample_rate: int | None, name: str | None = None) -> DecodedAudio:
    """Decode ``audio`` (a path, bytes or a binary file object), downmix by mean and resample to
    ``sample_rate`` (None keeps the file's rate). ``name`` names bytes and file objects in messages."""
    source = as_source(audio, name)
    stream = _open_source(source, sample_rate)
    try:
        samples = stream.read()
    except _SoundfileReadError as exc:  # libsndfile opened it but cannot decode it: try FFmpeg
        stream = _av_stream(source, sample_rate, exc.__cause__)
        samples = stream.read()
    return DecodedAudio(samples, stream.sample_rate, stream.source_rate)


def open_audio(audio: AudioInput, sample_rate: int | None, name: str | None = None,
               max_seconds: float | None = None) -> AudioStream:
    """``audio`` (a path, bytes or a binary file object) as an ``AudioStream`` of mono float32 at
    ``sample_rate`` (None: the file's rate); ``name`` names bytes and file objects in messages.

    libsndfile formats are decoded block by block when read; PyAV formats (AAC/M4A...) are decoded
    here, whole but already mono at ``sample_rate``. Fails (``InputError``) on a missing, empty or
    unreadable file and on a sample rate outside ``MIN_RATE``..``MAX_RATE``, before any resampling.

    ``max_seconds`` bounds untrusted input (a server's uploads): ``AudioTooLong`` when the header
    announces more, and PyAV formats stop decoding as soon as they pass it, so a small compressed
    file cannot expand into gigabytes of samples."""
    return _open_source(as_source(audio, name), sample_rate, max_seconds)


def _open_source(source: Source, sample_rate: int | None, max_seconds: float | None = None) -> AudioStream:
    import soundfile as sf

    try:
        with sf.SoundFile(source.handle()) as opened:
            rate, frames, header = int(opened.samplerate), int(opened.frames), opened.extra_info
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        return _av_stream(source, sample_rate, exc, max_seconds)
    check_rate(rate, source.name)
    target = sample_rate or rate
    if frames >= UNKNOWN_FRAMES:
        return _unsized_stream(source, rate, target, max_seconds)
    if frames <= 0:
        raise InputError(f"{source.name}: contains no audio samples")
    if max_seconds is not None and frames > max_seconds * rate:
        raise AudioTooLong(source.name, frames / rate, max_seconds)
    _warn_if_truncated(header, source.name)
    return AudioStream(source.name, resampled_length(frames, rate, target), target, rate,
                       partial(_soundfile_blocks, source, target))


# libsndfile's frame count for a header that does not give the length (a FLAC from a streaming encoder
# writes total_samples = 0): about 2**63. Trusting it allocates terabytes, and libsndfile cannot read
# such a file either (its reads seek past the announced end).
UNKNOWN_FRAMES = 1 << 62


def _unsized_stream(source: Source, rate: int, target: int, max_seconds: float | None = None) -> AudioStream:
    """A file whose header hides its length: FFmpeg counts the frames in one streamed pass (memory stays
    flat; it stops past ``max_seconds``), then serves them block by block like any other stream."""
    try:
        frames = _av_frame_count(source, None if max_seconds is None else int(max_seconds * rate))
    except InputError:
        raise
    except Exception as exc:  # PyAV raises many types
        raise InputError(f"{source.name}: not a readable audio file ({_short_reason(exc)})") from None
    if frames <= 0:
        raise InputError(f"{source.name}: contains no audio samples")
    return AudioStream(source.name, resampled_length(frames, rate, target), target, rate,
                       partial(_av_blocks, source, target))


def _warn_if_truncated(header: str, name: str) -> None:
    """One warning for a WAV (or AIFF...) whose header promises more data than the file holds: libsndfile
    reads what is there and notes ``data : 48000 (should be 23978)`` in its log (sox: "Premature EOF")."""
    import warnings

    from clapcli.errors import ClapcliWarning

    found = re.search(r"^(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", header or "", re.MULTILINE)
    if found and int(found.group(2)) < int(found.group(1)):
        warnings.warn(f"{name}: ends early ({found.group(2)} of the {found.group(1)} data bytes its header "
                      "announces); the missing end is ignored", ClapcliWarning, stacklevel=2)


def check_rate(rate: float, name: str) -> float:
    """``rate``, or ``InputError`` naming ``name`` when it is not a sane audio rate (checked before
    any resampling: soxr crashes the process on ratios such as 1 Hz -> 48 kHz)."""
    try:
        sane = MIN_RATE <= float(rate) <= MAX_RATE
    except (TypeError, ValueError):
        sane = False
    if not sane:
        raise InputError(f"{name}: sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz; the header is "
                         "damaged or this is not audio (re-export it at a standard rate)")
    return rate


def resampled_length(frames: int, source_rate: int, target_rate: int) -> int:
    """How many samples soxr gives for ``frames`` input frames: round half up of frames * ratio."""
    return (2 * frames * target_rate + source_rate) // (2 * source_rate)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(frames, channels) or (frames,) -> (frames,) float32, averaging channels."""
    if samples.ndim == 2:
        samples = _channel_mean(samples)
    return np.ascontiguousarray(samples, dtype=np.float32)


def _channel_mean(samples: np.ndarray) -> np.ndarray:
    """``samples.mean(axis=1)`` (same float32 numbers), 5x faster: numpy's reduction over a short
    strided axis runs one tiny inner loop per frame."""
    total = samples[:, 0].astype(np.float32)  # a copy
    for channel in range(1, samples.shape[1]):
        total += samples[:, channel]
    total /= np.float32(samples.shape[1])
    return total


def check_samples(samples: np.ndarray, name: str) -> None:
    if samples.size == 0:
        raise InputError(f"{name}: contains no audio samples")
    check_finite(samples, name)


def check_finite(samples: np.ndarray, name: str) -> None:
    if not np.isfinite(samples).all():
        raise InputError(f"{name}: contains NaN or infinite samples; re-export the file")


def resample(samples: np.ndarray, source_rate: int, target_rate: int, name: str = "input") -> np.ndarray:
    if source_rate == target_rate:
        return samples
    check_rate(source_rate, name)  # soxr segfaults on absurd ratios
    import soxr

    return soxr.resample(samples, source_rate, target_rate, quality="HQ").astype(np.float32, copy=False)


class _Resampler:
    """Streaming soxr: blocks in, blocks out, the same samples as one ``soxr.resample`` call."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self.stream = None
        if source_rate != target_rate:
            import soxr

            self.stream = soxr.ResampleStream(source_rate, target_rate, 1, dtype="float32", quality="HQ")

    def __call__(self, block: np.ndarray, last: bool) -> np.ndarray:
        if self.stream is None:
            return block
        return self.stream.resample_chunk(block, last=last)


class _SoundfileReadError(InputError):
    """libsndfile opened the file but failed while decoding it."""


def _soundfile_blocks(source: Source, target_rate: int) -> Iterator[np.ndarray]:
    import soundfile as sf

    with sf.SoundFile(source.handle()) as opened:
        resampler = _Resampler(int(opened.samplerate), target_rate)
        while True:
            try:
                block = opened.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
                raise _SoundfileReadError(f"{source.name}: not a readable audio file ({_short_reason(exc)})") from exc
            mono = to_mono(block)
            check_finite(mono, source.name)
            last = len(block) < BLOCK_FRAMES
            yield resampler(mono, last)
            if last:
                return


def _array_blocks(samples: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, len(samples), BLOCK_FRAMES):
        yield samples[start : start + BLOCK_FRAMES]


def _av_stream(source: Source, sample_rate: int | None, soundfile_error: BaseException | None,
               max_seconds: float | None = None) -> AudioStream:
    try:
        samples, rate = _decode_with_av(source, sample_rate, max_seconds)
    except InputError:
        raise
    except Exception as exc:  # PyAV raises many types (InvalidDataError, ValueError...)
        reason = _short_reason(*(e for e in (soundfile_error, exc) if e is not None))
        raise InputError(f"{source.name}: not a readable audio file ({reason})") from None
    check_samples(samples, source.name)
    return AudioStream.of_array(source.name, samples, sample_rate or rate, rate)


def _decode_with_av(source: Source, sample_rate: int | None, max_seconds: float | None = None,
                    ) -> tuple[np.ndarray, int]:
    """Mono float32 at ``sample_rate`` (None: the stream's rate), whole, and the stream's rate;
    ``AudioTooLong`` as soon as more than ``max_seconds`` came out."""
    try:
        import av
    except ImportError:  # pragma: no cover - av is a base dependency
        raise InputError(f"{source.name}: format needs PyAV: pip install av") from None
    with av.open(source.handle()) as container:
        if not container.streams.audio:
            raise InputError(f"{source.name}: has no audio stream")
        stream = container.streams.audio[0]
        rate = int(check_rate(stream.rate or stream.codec_context.sample_rate or 0, source.name))
    target = sample_rate or rate
    budget = None if max_seconds is None else max_seconds * target
    chunks: list[np.ndarray] = []
    produced = 0
    for block in _av_blocks(source, target):
        chunks.append(block)
        produced += len(block)
        if budget is not None and produced > budget:
            raise AudioTooLong(source.name, produced / target, max_seconds, exact=False)  # type: ignore[arg-type]
    if not produced:
        raise InputError(f"{source.name}: contains no audio samples")
    return np.concatenate(chunks), rate


def _av_frame_count(source: Source, limit: int | None = None) -> int:
    """The stream's frames, counted by decoding; ``AudioTooLong`` once past ``limit`` frames."""
    import av

    with av.open(source.handle()) as container:
        if not container.streams.audio:
            raise InputError(f"{source.name}: has no audio stream")
        stream = container.streams.audio[0]
        frames = 0
        for frame in container.decode(stream):
            frames += frame.samples
            if limit is not None and frames > limit:
                rate = int(stream.rate or stream.codec_context.sample_rate)
                raise AudioTooLong(source.name, frames / rate, limit / rate, exact=False)
        return frames


def _av_blocks(source: Source, target_rate: int) -> Iterator[np.ndarray]:
    """Mono float32 at ``target_rate`` decoded by FFmpeg frame by frame (never whole)."""
    import av

    try:
        with av.open(source.handle()) as container:
            stream = container.streams.audio[0]
            resampler = _Resampler(int(stream.rate or stream.codec_context.sample_rate), target_rate)
            for frame in container.decode(stream):
                channels = len(frame.layout.channels)
                frames = _frame_to_frames_channels(frame.to_ndarray(), frame.format.is_planar, channels)
                mono = to_mono(_as_float(frames))
                check_finite(mono, source.name)
                yield resampler(mono, last=False)
            yield resampler(np.zeros(0, np.float32), last=True)
    except InputError:
        raise
    except Exception as exc:  # PyAV raises many types
        raise InputError(f"{source.name}: not a readable audio file ({_short_reason(exc)})") from None


def _as_float(data: np.ndarray) -> np.ndarray:
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    return data.astype(np.float32, copy=False)


def _frame_to_frames_channels(array: np.ndarray, planar: bool, channels: int) -> np.ndarray:
    if planar:
        return array.T  # (channels, frames) -> (frames, channels)
    return array.reshape(-1, channels)  # packed: (1, frames*channels)


# Decoder reasons that say nothing true about a file we could open: libsndfile's for an .mp3 (or .mpeg)
# holding no MPEG audio; FFmpeg's for any unrecognised bytes.
_UNINFORMATIVE = ("File does not exist or is not a regular file", "Invalid data found when processing input")


def _short_reason(*errors: BaseException) -> str:
    """The first informative reason among the decoders' errors, without their copy of the path."""
    for error in errors:
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        # libsndfile repeats the input: "Error opening '/x.wav': Format not recognised." for a path,
        # "Error opening <_io.BytesIO object at 0x...>: ..." for a file object; PyAV says
        # "[Errno 1094995529] Invalid data found when processing input: '/x.mp3'".
        text = re.sub(r"^Error opening (?:'.*?'|<.*?>): ", "", text)
        text = re.sub(r"^\[Errno -?\d+\] |: '.*'$", "", text)
        if text and not text.startswith(_UNINFORMATIVE):
            return text[:120]
    return "unrecognised format or damaged data"
