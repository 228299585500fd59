"""Event writers (``clap detect``): the record formats (table, CSV, JSON, JSONL: one row per event,
every file in one output) and per-file label formats (one document per input file):

- ``audacity``: Audacity's label track (``onset<TAB>offset<TAB>label``; File > Import > Labels).
- ``raven``: a Raven selection table (tab-separated, the columns Raven Pro reads, plus Score).
- ``webvtt``: WebVTT cues (a video player's subtitle track), in time order.

Per-window scores (``--frames``) go to CSV or Parquet: ``path, start, end`` and one column per label.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from clapcli.errors import InvalidField
from clapcli.io.writers.base import Destination, Writer, csv_line
from clapcli.results import Event, FrameScores

EVENT_RECORD_FORMATS = ("table", "csv", "json", "jsonl")
PER_FILE_FORMATS = ("audacity", "raven", "webvtt")
EVENT_FORMATS = EVENT_RECORD_FORMATS + PER_FILE_FORMATS
EVENT_COLUMNS = ["path", "label", "onset", "offset", "peak", "mean"]
FRAME_FORMATS = ("csv", "parquet")
# The file name ending of each per-file format (Raven's own convention for selection tables).
SUFFIXES = {"audacity": ".txt", "raven": ".selections.txt", "webvtt": ".vtt"}
EXTENSIONS = {"vtt": "webvtt"}


def event_record(event: Event, fmt: str) -> dict:
    """One row: times to the millisecond (as text in CSV/table, so long files keep them), scores."""
    onset, offset = round(event.onset, 3), round(event.offset, 3)
    if fmt in ("csv", "table"):
        return {"path": event.source, "label": event.label, "onset": f"{onset:.3f}", "offset": f"{offset:.3f}",
                "peak": round(event.peak, 6), "mean": round(event.mean, 6)}
    return event.to_dict()


# ---------------------------------------------------------------- per-file label formats


def audacity_text(events: Sequence[Event]) -> str:
    return "".join(f"{e.onset:.6f}\t{e.offset:.6f}\t{_one_line(e.label)}\n" for e in events)


RAVEN_COLUMNS = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)",
                 "High Freq (Hz)", "Annotation", "Score"]


def raven_text(events: Sequence[Event], high_freq: float) -> str:
    lines = ["\t".join(RAVEN_COLUMNS)]
    for number, e in enumerate(events, start=1):
        lines.append("\t".join([str(number), "Spectrogram 1", "1", f"{e.onset:.6f}", f"{e.offset:.6f}", "0",
                                f"{high_freq:g}", _one_line(e.label), f"{e.peak:.6f}"]))
    return "\n".join(lines) + "\n"


def webvtt_text(events: Sequence[Event]) -> str:
    parts = ["WEBVTT\n"]
    for number, e in enumerate(sorted(events, key=lambda e: (e.onset, e.offset)), start=1):
        label = _one_line(e.label).replace("-->", "->")
        parts.append(f"\n{number}\n{vtt_time(e.onset)} --> {vtt_time(e.offset)}\n{label} ({e.peak:.2f})\n")
    return "".join(parts)


def vtt_time(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def label_document(fmt: str, events: Sequence[Event], high_freq: float) -> str:
    if fmt == "audacity":
        return audacity_text(events)
    if fmt == "raven":
        return raven_text(events, high_freq)
    return webvtt_text(events)


class LabelFiles:
    """Per-file label documents: to stdout or one ``output`` file (one input), or one file per input
    in the directory ``output`` (named after each input, never replacing without ``overwrite``)."""

    def __init__(self, fmt: str, output: Path | None, overwrite: bool, directory: bool) -> None:
        self.fmt, self.output, self.overwrite, self.directory = fmt, output, overwrite, directory
        self.used: set[str] = set()
        self.written: list[str] = []

    def write(self, source: str, events: Sequence[Event], high_freq: float) -> None:
        path = self._path_for(source) if self.directory else self.output
        destination = Destination.open(path, self.overwrite, binary=False)
        with destination.guard():
            destination.stream.write(label_document(self.fmt, events, high_freq))
        destination.commit()
        self.written.append(destination.name)

    def _path_for(self, source: str) -> Path:
        assert self.output is not None
        stem = Path(source).stem or "audio"
        name, number = stem + SUFFIXES[self.fmt], 2
        while name in self.used:  # two inputs with the same stem in different directories
            name, number = f"{stem}-{number}{SUFFIXES[self.fmt]}", number + 1
        self.used.add(name)
        return self.output / name


# ---------------------------------------------------------------- per-window scores


class FrameWriter(Writer):
    """``FrameScores`` of each file as rows ``path, start, end, <label>...`` (CSV or Parquet)."""

    def __init__(self, destination: Destination, fmt: str, labels: list[str]) -> None:
        super().__init__(destination)
        clash = {"path", "start", "end"} & set(labels)
        if clash:
            raise InvalidField("frames", "a label is named '{label}', which is a column name; rename it",
                               label=sorted(clash)[0])
        self.fmt = fmt
        self.binary = fmt == "parquet"
        self.labels = labels
        self._parquet = None

    def _write(self, frames: FrameScores) -> None:
        if self.fmt == "csv":
            if self.count == 0:
                self.stream.write(csv_line(["path", "start", "end", *self.labels]))
            for i in range(len(frames.starts)):
                row = [frames.source, f"{frames.starts[i]:.3f}", f"{frames.ends[i]:.3f}"]
                self.stream.write(csv_line(row + [f"{v:.6g}" for v in frames.scores[i]]))
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {"path": pa.array([frames.source] * len(frames.starts), pa.string()),
                   "start": pa.array(frames.starts, pa.float64()), "end": pa.array(frames.ends, pa.float64())}
        for j, label in enumerate(self.labels):
            columns[label] = pa.array(frames.scores[:, j], pa.float32())
        table = pa.table(columns)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.stream, table.schema)
        self._parquet.write_table(table)

    def _finish(self) -> None:
        if self.fmt == "csv":
            if self.count == 0:
                self.stream.write(csv_line(["path", "start", "end", *self.labels]))
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._parquet is None:
            fields = [pa.field("path", pa.string()), pa.field("start", pa.float64()), pa.field("end", pa.float64())]
            fields += [pa.field(label, pa.float32()) for label in self.labels]
            pq.write_table(pa.schema(fields).empty_table(), self.stream)
        else:
            self._parquet.close()


def frame_writer(path: Path, overwrite: bool, labels: list[str]) -> FrameWriter:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FRAME_FORMATS:
        raise InvalidField("frames", "{frames} {path}: give a .csv or .parquet file name", path=path)
    return FrameWriter(Destination.open(path, overwrite, binary=fmt == "parquet"), fmt, labels)


def event_format(explicit: str | None, output: Path | None, is_terminal: bool) -> str:
    """``--format`` wins; then ``--output``'s extension (.vtt -> webvtt; .txt is ambiguous); then a
    table on a terminal, CSV in a pipe."""
    if explicit:
        fmt = explicit.lower()
    elif output is not None and output.suffix:
        ext = output.suffix.lower().lstrip(".")
        fmt = EXTENSIONS.get(ext, ext)
        if fmt not in EVENT_FORMATS:
            raise InvalidField("output", "{output} {path}: cannot tell the format from '.{ext}'; add {fmt} ({known})",
                               path=output, ext=ext, known=", ".join(EVENT_FORMATS))
    elif output is not None:
        fmt = "csv"
    else:
        fmt = "table" if is_terminal else "csv"
    if fmt not in EVENT_FORMATS:
        raise InvalidField("fmt", "{fmt} {value}: choose one of {known}", value=fmt, known=", ".join(EVENT_FORMATS))
    return fmt
