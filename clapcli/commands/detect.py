"""``clap detect``: find when sounds happen in (long) recordings: windows scored against labels,
post-processed into timed events."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clapcli.console.options import (
    FROM_FLAGS,
    BatchSizeOpt,
    EventFormat,
    InputsArg,
    LabelsFileOpt,
    LabelsOpt,
    OverwriteOpt,
    ProbeOpt,
    QuietOpt,
    WorkersOpt,
    label_list,
    plain,
    with_model_options,
)
from clapcli.text import plural

if TYPE_CHECKING:
    from clapcli.console.common import ModelOptions

EPILOG = """\
Examples:

  clap detect night.flac --labels "dog barking,car horn,siren,speech" --format csv > events.csv

  clap detect recordings/ --labels-file birds.txt --window 3 --hop 1 --format raven -o out/

  clap detect podcast.mp3 --labels "music,speech,laughter" --format audacity -o podcast.txt

  clap detect clip.wav --labels "glass breaking" --threshold 0.3 --plot timeline.png

  clap detect cctv.wav -l "gunshot,scream" --mode similarity --background "street noise" --frames scores.parquet

  clap detect eval/ -l "Dog,Speech,Alarm_bell_ringing" -o events.csv --reference eval.tsv --metrics metrics.json

  clap detect night.flac --probe my-probe/ --format audacity -o night.txt

How it works: windows of --window seconds every --hop seconds cover each file (one last window ends
at the file's end); each window is scored against the labels, and its score speaks for the time
nearest its centre. Scores, per --mode:
  softmax     over the labels: exactly 'clap classify' on the window cut out as a file (default with
              two or more labels; the labels compete, scores sum to 1)
  similarity  each label on its own (default with one label): the cosine similarity (-1..1), or with
              --background PROMPT the probability of the label against that prompt (0..1)
A frame-level model (PE-Audio frame, e.g. --model pe-a-frame-base) needs no windows: it scores its own
40 ms frames, sigmoid per label (each label its own probability), and --window, --hop, --mode and
--background do not apply.
--probe DIR (from 'clap train'): the probe's classes are the labels and its probabilities score each window
(each frame, for a frame-level model); the probe's model is used.
Then per label: median smoothing (--smooth), threshold with hysteresis (--threshold, --threshold-off),
gaps shorter than --merge-gap joined, events shorter than --min-duration dropped. Onsets and offsets
are in seconds, within the file. Formats: table, csv, json, jsonl (one row per event), and one file
per input: audacity (label track), raven (selection table), webvtt; give -o DIR for several inputs.

--reference TSV: strong labels in the DCASE/DESED form (tab-separated filename, onset, offset, event_label;
header optional; a file name alone = a file without events). The scanned inputs found in it (by path, else
by file name) are measured with sed_eval (needs clapcli\\[eval]): event-based F1 and error rate (onset within
--collar seconds, offset within max(--collar, 20% of the event's length)) and segment-based (1 s segments),
micro and macro, printed on stderr; --metrics FILE.json keeps every figure, per label too.

Exit codes: 0 ok, 1 error, 2 usage, 3 some inputs failed (the rest are written).
"""


TemplateOpt = Annotated[str | None, typer.Option("--template", help="Prompt around each label, {} = the label. "
                                                "Default: the model's.", show_default=False)]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="softmax or similarity (see below). Default: softmax "
                                            "with two or more labels, similarity with one.", show_default=False)]
BackgroundOpt = Annotated[str | None, typer.Option("--background", help="similarity mode: score each label "
                                                  "against this prompt (e.g. \"background noise\").",
                                                  show_default=False)]
WindowOpt = Annotated[float | None, typer.Option("--window", help="Window length in seconds. Default: the model's "
                                                "(10 s for LAION CLAP).", show_default=False)]
HopOpt = Annotated[float | None, typer.Option("--hop", help="Seconds between window starts. Default: half the "
                                             "window.", show_default=False)]
ThresholdOpt = Annotated[float | None, typer.Option("--threshold", help="Score where an event starts. "
                                                   "Default: 0.5 (probabilities), 0.3 (plain cosine).",
                                                   show_default=False)]
ThresholdOffOpt = Annotated[float | None, typer.Option("--threshold-off", help="Hysteresis: an event lasts while "
                                                       "the score stays at or above this. Default: --threshold.",
                                                       show_default=False)]
SmoothOpt = Annotated[int, typer.Option("--smooth", min=1, help="Median smoothing over this many windows "
                                       "(odd; 1 = off).")]
MinDurationOpt = Annotated[float, typer.Option("--min-duration", min=0.0, help="Drop events shorter than this "
                                               "(seconds).")]
MergeGapOpt = Annotated[float, typer.Option("--merge-gap", min=0.0, help="Join events of a label separated by "
                                            "less than this (seconds).")]
FormatOpt = Annotated[EventFormat | None, typer.Option(
    "--format", "-f", case_sensitive=False, callback=plain, help="table, csv, json, jsonl, audacity, raven or "
    "webvtt. Default: table on a terminal, csv when piped, else from --output's extension.", show_default=False)]
EventsOutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE, or for audacity/raven/"
                                                      "webvtt to a DIRECTORY (one file per input).",
                                                      show_default=False)]
FramesOpt = Annotated[Path | None, typer.Option("--frames", help="Also write every window's scores to this .csv "
                                               "or .parquet file.", show_default=False, dir_okay=False)]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Draw spectrogram, score curves and events to this "
                                             ".png (a DIRECTORY for several inputs). Needs clapcli\\[plot].",
                                             show_default=False)]
ReferenceOpt = Annotated[Path | None, typer.Option("--reference", help="Measure the events against these "
                                                  "reference annotations (DCASE TSV, see below). Needs "
                                                  "clapcli\\[eval].", show_default=False, dir_okay=False)]
MetricsOpt = Annotated[Path | None, typer.Option("--metrics", help="With --reference: write every metric to "
                                                "this .json file.", show_default=False, dir_okay=False)]
CollarOpt = Annotated[float, typer.Option("--collar", min=0.0, help="With --reference: onset/offset tolerance of "
                                         "the event-based metrics (seconds).")]


@with_model_options()
def detect(
    inputs: InputsArg = None,
    labels: LabelsOpt = None,
    labels_file: LabelsFileOpt = None,
    template: TemplateOpt = None,
    mode: ModeOpt = None,
    background: BackgroundOpt = None,
    window: WindowOpt = None,
    hop: HopOpt = None,
    threshold: ThresholdOpt = None,
    threshold_off: ThresholdOffOpt = None,
    smooth: SmoothOpt = 1,
    min_duration: MinDurationOpt = 0.0,
    merge_gap: MergeGapOpt = 0.0,
    fmt: FormatOpt = None,
    output: EventsOutputOpt = None,
    frames: FramesOpt = None,
    plot: PlotOpt = None,
    reference: ReferenceOpt = None,
    metrics: MetricsOpt = None,
    collar: CollarOpt = 0.2,
    probe: ProbeOpt = None,
    model_options: ModelOptions = FROM_FLAGS,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Find when each label's sound happens in each input: timed events (onset, offset, scores)."""
    import sys

    from clapcli.commands.detect_writers import Writers
    from clapcli.console.common import FailureLog, collect_sources, probe_and_model
    from clapcli.console.output import Output
    from clapcli.core.detect import PostProcessing
    from clapcli.core.detect.setup import prepare_detection
    from clapcli.errors import UsageError
    from clapcli.io.writers.events import event_format

    if not inputs:
        raise UsageError("give at least one input file, directory, glob or - (see clap detect --help)")
    trained, model_options = probe_and_model(probe, model_options, labels or labels_file or template)
    names = trained.classes if trained else label_list(labels, labels_file)
    fmt = event_format(fmt, output, sys.stdout.isatty())
    annotations = _check_files(output, frames, plot, reference, metrics)
    out = Output(quiet)
    loaded = model_options.load()
    spec, scorer = prepare_detection(loaded, names, trained, window, hop, mode, template, background)
    threshold = threshold if threshold is not None else (0.5 if scorer.probabilities else 0.3)
    post = PostProcessing(threshold, threshold_off, smooth, merge_gap, min_duration).check(_lowest_score(scorer))
    sources = collect_sources(inputs, "audio")
    writers = Writers.open(fmt, output, frames, plot, overwrite, scorer.labels, len(sources) > 1)
    writers.high_freq, writers.keep_events = (loaded.sample_rate or 0) / 2, annotations is not None
    failures = FailureLog(out)
    with writers, out.progress(len(sources), "detecting") as advance:
        writers.scan(loaded, sources, scorer, spec, post, batch_size, workers, advance, failures)
    if annotations is not None:
        _report_metrics(out, writers, annotations, scorer.labels, collar, metrics, overwrite)
    failures.finish(writers.done, f"files scanned, {plural(writers.events_found, 'event')}")


def _check_files(output: Path | None, frames: Path | None, plot: Path | None, reference: Path | None,
                 metrics: Path | None) -> dict | None:
    """The file options checked before a model is loaded; the reference annotations, if given."""
    from clapcli.errors import UsageError

    if plot is not None:
        _check_plot_extra()
    if metrics is not None and reference is None:
        raise UsageError("--metrics needs --reference TSV (the annotations to measure the events against)")
    _distinct_files({"--reference": reference, "--output": output, "--frames": frames, "--plot": plot,
                     "--metrics": metrics})
    return _load_reference(reference) if reference is not None else None


def _distinct_files(named: dict[str, Path | None]) -> None:
    """Two options naming one file would keep only the last written (with --overwrite), or overwrite the
    reference annotations: refused before anything is read. Devices, FIFOs and directories are exempt."""
    import os
    import stat

    from clapcli.errors import UsageError

    seen: dict[str, str] = {}
    for option, path in named.items():
        if path is None:
            continue
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                continue  # /dev/null twice is fine; a directory holds one file per input
        except OSError:
            pass  # not there yet: compared by name
        key = os.path.realpath(path)
        if key in seen:
            raise UsageError(f"{seen[key]} and {option} both name '{path}'; give each its own file")
        seen[key] = option


def _load_reference(path: Path) -> dict:
    from clapcli.core.detect.evaluate import load_sed_eval
    from clapcli.io.reference import read_reference

    annotations = read_reference(path)
    load_sed_eval()  # a missing extra fails before any audio is read
    return annotations


def _report_metrics(out, writers, annotations: dict, labels: list[str], collar: float,  # noqa: ANN001
                    metrics_path: Path | None, overwrite: bool) -> None:
    from clapcli.core.detect.evaluate import evaluate, match_files, summary_lines, write_metrics

    detected = writers.detected
    files = match_files(detected, annotations)
    if not files.matched and detected:
        from clapcli.errors import InputError

        raise InputError(f"none of the scanned files is in the reference (e.g. {next(iter(detected))}); its "
                         "filename column must hold their paths or file names")
    if files.not_in_reference:
        out.warning(f"{_are(len(files.not_in_reference), 'scanned file')} not in the reference, left out of the "
                    f"metrics (first: {files.not_in_reference[0]})")
    if files.not_scanned:
        out.warning(f"{_were(len(files.not_scanned), 'reference file')} not among the inputs, left out of the "
                    f"metrics (first: {files.not_scanned[0]})")
    unknown = sorted({e.label for events in annotations.values() for e in events} - set(labels))
    if unknown:
        out.warning(f"reference labels not among --labels count as missed: {', '.join(unknown[:5])}")
    result = evaluate(detected, annotations, files, labels, collar=collar, scores=writers.scores)
    for line in summary_lines(result):
        out.summary(line)
    if metrics_path is not None:
        write_metrics(metrics_path, result, overwrite)


def _check_plot_extra() -> None:
    import importlib.util

    from clapcli.errors import missing_extra

    if importlib.util.find_spec("matplotlib") is None:
        raise missing_extra("matplotlib", "plot")


def register(app: typer.Typer) -> None:
    app.command("detect", epilog=EPILOG)(detect)


def _are(count: int, noun: str) -> str:
    return f"{plural(count, noun)} {'is' if count == 1 else 'are'}"


def _were(count: int, noun: str) -> str:
    return f"{plural(count, noun)} {'was' if count == 1 else 'were'}"


def _lowest_score(scorer: Any) -> float:
    """Where the scores' range starts: 0 for probabilities, -1 for plain cosine similarity."""
    return 0.0 if scorer.probabilities else -1.0
