"""The numpy side of Perception Encoder Audio, shared by the torch backend (``pe_audio.py``) and its ONNX /
OpenVINO export (``runtime/pe_model.py``): a clip's windows of at most ``MAX_SECONDS`` (the ``--long-audio``
rule beyond), each reflect-padded to a multiple of the frame hop as ``PeAudioFeatureExtractor`` does, and
the grouping of windows by length (only windows of equal length share a forward pass: the convolutional
front end ignores ``padding_mask``, docs/pe-audio.md)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from clapcli.audio.decode import AudioStream
from clapcli.audio.windows import StreamedWindows, window_starts
from clapcli.errors import InvalidField

# Longest clip embedded in one forward pass (seconds); longer clips are cut into windows of this length by
# the --long-audio rule. Measured on the default (large-style, 282M-parameter) audio encoder, one thread,
# loaded machine (docs/pe-audio.md): the convolutional front end costs 0.83 s per audio second whatever
# the length; the transformer 0.13 s per audio second at 10 s, 0.19 at 30 s, 0.17 at 120 s, 0.26 at 300 s
# (attention's square term shows from a few minutes on) and its peak memory grows (1.8 GB -> 2.5 GB).
# 30 s keeps each pass near the lengths such models are trained on and the memory flat.
MAX_SECONDS = 30.0

Places = list[tuple[int, int]]  # (item, window) of each row of a batch


@dataclass(frozen=True)
class PeItem:
    """One prepared input: its windows of samples (each a multiple of the hop), and what it costs."""

    windows: tuple[np.ndarray, ...]
    cost: int = 1


class PeWindows:
    """Window geometry and preparation (numpy only: it runs in the pipeline's decode threads)."""

    sample_rate: int
    hop: int
    max_samples: int
    window_seconds: float
    long_audio: str

    def set_geometry(self, sample_rate: int, hop: int, long_audio: str, model: object,
                     max_samples: int | None = None) -> None:
        """``max_samples``: the longest window (an export's, as recorded), else ``MAX_SECONDS`` in whole hops."""
        self.sample_rate = int(sample_rate)  # 48000 (dac_config says 16000: not the input rate)
        self.hop = int(hop)
        self.max_samples = max_samples or int(MAX_SECONDS * self.sample_rate) // self.hop * self.hop
        self.window_seconds = self.max_samples / self.sample_rate
        if long_audio == "fusion":
            raise InvalidField("long_audio", "{long_audio} fusion is LAION CLAP's; '{model}' takes mean, head or "
                               "center", model=model)
        self.long_audio = long_audio

    def prepare(self, media: np.ndarray | AudioStream) -> PeItem | StreamedWindows:
        """One item; a long ``AudioStream``'s windows are cut lazily, chunk by chunk, when encoded
        (``StreamedWindows``: the pipeline sums chunk means), so a long file is never held whole."""
        size = self.max_samples
        if isinstance(media, AudioStream) and media.length > size:
            starts = window_starts(media.length, size, self.long_audio)
            return StreamedWindows(media.blocks, tuple(starts), size, self._item)
        samples = np.asarray(media.read() if isinstance(media, AudioStream) else media, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise ValueError("empty audio")
        starts = window_starts(len(samples), size, self.long_audio)
        return self._item([samples[start : start + size] for start in starts])

    def _item(self, windows: Sequence[np.ndarray]) -> PeItem:
        """Windows of at most ``max_samples`` (each reflect-padded to the hop) as one item; each window
        costs one in batching (``--batch-size`` counts windows of up to ``MAX_SECONDS``)."""
        padded = tuple(self.pad(np.asarray(window, dtype=np.float32)) for window in windows)
        return PeItem(padded, len(padded))

    def pad(self, samples: np.ndarray) -> np.ndarray:
        """Reflect-pad to a multiple of the hop, exactly as ``PeAudioFeatureExtractor`` does."""
        short = -len(samples) % self.hop
        return np.pad(samples, (0, short), "reflect") if short else samples

    def items_cost(self, item: PeItem | StreamedWindows) -> int:
        return item.cost


def batches_by_length(items: Sequence[PeItem]) -> Iterator[tuple[np.ndarray, Places]]:
    """(batch (n, 1, length) float32, the (item, window) of each row): every window once, equal lengths
    together, so no window is ever padded inside a batch."""
    by_length: dict[int, Places] = {}
    for owner, item in enumerate(items):
        for index, window in enumerate(item.windows):
            by_length.setdefault(len(window), []).append((owner, index))
    for places in by_length.values():
        batch = np.stack([items[owner].windows[index] for owner, index in places])[:, None, :]
        yield np.ascontiguousarray(batch, dtype=np.float32), places
