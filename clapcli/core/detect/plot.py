"""``--plot``: one PNG per file, readable at a glance: a spectrogram on top, one score curve per label
below with the threshold, and the detected events as bars (one row per label).

The spectrogram of a file of any length is built from at most ``COLUMNS`` short frames cut from its
block stream (``cut_windows``), so a 3-hour file costs no more memory than a minute. matplotlib
(the ``plot`` extra) is imported only here, with its Agg canvas (no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clapcli.audio.windows import cut_windows, frame_bounds
from clapcli.errors import missing_extra
from clapcli.results import Event, FrameScores

PLOT_RATE = 16000
N_FFT = 1024
COLUMNS = 1200
SIZE_INCHES = (12.0, 6.0)
DPI = 100  # 1200 x 600 pixels


def spectrogram(path: str | Path, columns: int = COLUMNS) -> tuple[np.ndarray, float]:
    """(N_FFT // 2 + 1, <= columns) power in dB of frames spread evenly over the file, and its duration."""
    from clapcli.audio.decode import open_audio

    stream = open_audio(path, PLOT_RATE)
    length = stream.length
    if length <= N_FFT:
        starts = np.zeros(1, dtype=np.int64)
    else:
        starts = np.unique(np.linspace(0, length - N_FFT, min(columns, length - N_FFT + 1)).astype(np.int64))
    window = np.hanning(min(N_FFT, length)).astype(np.float32)
    power = np.empty((N_FFT // 2 + 1, len(starts)), dtype=np.float32)
    for column, frame in enumerate(cut_windows(stream.blocks(), starts, N_FFT, length)):
        spectrum = np.fft.rfft(frame * window, n=N_FFT)
        power[:, column] = 10 * np.log10(np.maximum(np.abs(spectrum) ** 2, 1e-10))
    return power, stream.duration


def plot_file(frames: FrameScores, events: list[Event], threshold: float, output: Path, overwrite: bool) -> None:
    """Write the PNG for one file (published atomically like every output)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise missing_extra("matplotlib", "plot") from None
    from clapcli.io.target import OutputFile

    power, duration = spectrogram(frames.source)
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    top, middle, bottom = figure.subplots(3, 1, sharex=True, height_ratios=[3, 3, 1])
    floor = np.percentile(power, 5)
    top.imshow(power, origin="lower", aspect="auto", extent=(0, duration, 0, PLOT_RATE / 2000),
               vmin=floor, vmax=power.max(), cmap="magma")
    top.set_ylabel("kHz")
    top.set_title(Path(frames.source).name)
    centres = (frames.starts + frames.ends) / 2
    colours = [f"C{i % 10}" for i in range(len(frames.labels))]
    for column, label in enumerate(frames.labels):
        middle.plot(centres, frames.scores[:, column], color=colours[column], label=label, linewidth=1.2)
    middle.axhline(threshold, color="grey", linestyle="--", linewidth=0.8)
    middle.set_ylabel("score")
    middle.legend(loc="upper right", fontsize="small", ncols=min(4, len(frames.labels)))
    rows = {label: i for i, label in enumerate(frames.labels)}
    for event in events:
        row = rows[event.label]
        bottom.broken_barh([(event.onset, event.offset - event.onset)], (row + 0.1, 0.8), color=colours[row])
    bottom.set_yticks([i + 0.5 for i in range(len(frames.labels))], frames.labels, fontsize="small")
    bottom.set_ylim(0, len(frames.labels))
    bottom.set_xlim(0, max(duration, float(frame_bounds(frames.starts, frames.ends, frames.duration)[-1])))
    bottom.set_xlabel("seconds")
    target = OutputFile(output, overwrite, binary=True, label="--plot")
    try:
        figure.savefig(target.handle, format="png", dpi=DPI)
    except OSError as exc:
        raise target.write_failed(exc) from None
    target.commit()
