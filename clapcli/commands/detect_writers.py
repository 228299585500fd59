"""Where ``clap detect`` writes: event rows or one label file per input, the frame scores, the plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Writers:
    """Where a run's results go: event rows (one writer) or one label file per input, the frame scores,
    the plots; and what the metrics need (events per file)."""

    def __init__(self, fmt: str, sink: Any, labels_out: Any, frame_sink: Any, plot: Path | None, plot_dir: bool,
                 overwrite: bool) -> None:
        self.fmt, self.sink, self.labels_out, self.frame_sink = fmt, sink, labels_out, frame_sink
        self.plot, self.plot_dir, self.overwrite = plot, plot_dir, overwrite
        self.high_freq = 0.0
        self.plotted: set[str] = set()
        self.detected: dict = {}  # source -> (events, duration), kept for --reference
        self.scores: dict = {}  # source -> FrameScores, kept for --reference (PSDS needs no threshold)
        self.keep_events = False
        self.done = self.events_found = 0

    @classmethod
    def open(cls, fmt: str, output: Path | None, frames: Path | None, plot: Path | None, overwrite: bool,
             labels: list[str], several: bool) -> Writers:
        from clapcli.errors import UsageError
        from clapcli.io.writers.events import EVENT_COLUMNS, PER_FILE_FORMATS, LabelFiles, frame_writer
        from clapcli.io.writers.records import record_writer

        per_file = fmt in PER_FILE_FORMATS
        label_dir = per_file and output is not None and is_directory(output, several, "--output")
        if per_file and several and not label_dir:
            raise UsageError(f"--format {fmt} writes one file per input; give --output DIRECTORY for several inputs")
        plot_dir = plot is not None and is_directory(plot, several, "--plot")
        sink = None if per_file else record_writer(fmt, output, overwrite, EVENT_COLUMNS if fmt in ("table", "csv")
                                                   else [])
        labels_out = LabelFiles(fmt, output, overwrite, label_dir) if per_file else None
        frame_sink = frame_writer(frames, overwrite, labels) if frames is not None else None
        return cls(fmt, sink, labels_out, frame_sink, plot, plot_dir, overwrite)

    def __enter__(self) -> Writers:
        from contextlib import ExitStack

        self.stack = ExitStack()
        for writer in (self.sink, self.frame_sink):
            if writer is not None:
                self.stack.enter_context(writer)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stack.__exit__(*exc)

    def scan(self, loaded: Any, sources: list, scorer: Any, spec: Any, post: Any, batch_size: int | None,
             workers: int | None, advance: Any, failures: Any) -> None:
        from clapcli.core.detect import detect_events, score_files
        from clapcli.results import FailedInput

        for result in score_files(loaded, sources, scorer, spec, batch_size, workers, advance):
            if isinstance(result, FailedInput):
                failures.add(result)
                if self.sink is not None:
                    self.sink.write_failure(result.source, result.reason)
                continue
            self.done += 1
            events = detect_events(result, post)
            self.events_found += len(events)
            if self.keep_events:
                self.detected[result.source] = (events, result.duration)
                self.scores[result.source] = result
            self.write(result, events, post.threshold)

    def write(self, result: Any, events: list, threshold: float) -> None:
        from clapcli.io.writers.events import event_record

        if self.frame_sink is not None:
            self.frame_sink.write(result)
        if self.sink is not None:
            for event in events:
                self.sink.write(event_record(event, self.fmt))
        else:
            self.labels_out.write(result.source, events, self.high_freq)
        if self.plot is not None:
            from clapcli.core.detect.plot import plot_file

            target = self.plot / _png_name(result.source, self.plotted) if self.plot_dir else self.plot
            plot_file(result, events, threshold, target, self.overwrite)


def is_directory(path: Path, several: bool, what: str) -> bool:
    """An existing directory, a name ending in '/', or (several inputs) a name to create as one."""
    from clapcli.errors import UsageError

    if path.is_dir() or str(path).endswith(("/", "\\")) or (several and not path.suffix):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{what} {path}: cannot create the directory ({exc.strerror or exc})") from None
        return True
    if several:
        raise UsageError(f"{what} {path}: several inputs need a DIRECTORY here (one file per input)")
    return False


def _png_name(source: str, used: set[str]) -> str:
    stem = Path(source).stem or "audio"
    name, number = f"{stem}.png", 2
    while name in used:
        name, number = f"{stem}-{number}.png", number + 1
    used.add(name)
    return name
