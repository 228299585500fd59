"""``clap classify``: zero-shot classification of audio (or image) files against text labels."""

from __future__ import annotations

from typing import Annotated

import typer

from clapcli.commands.options import (
    BatchSizeOpt,
    DeviceOpt,
    DtypeOpt,
    InputsArg,
    LongAudioOpt,
    ModelOpt,
    OutputOpt,
    OverwriteOpt,
    PrecisionOpt,
    QuantizeOpt,
    QuietOpt,
    RecordFormat,
    RuntimeOpt,
    WorkersOpt,
    plain,
    split_values,
)
from clapcli.text import plural

EPILOG = """\
Examples:

  clap classify dog.wav sounds/ --labels "dog barking,cat meowing,rain"

  clap classify sounds/ --labels-file labels.txt --top-k 3 --format csv > predictions.csv

  find . -name '*.mp3' | clap classify - --labels "speech,music,noise" --format jsonl

  clap classify test.wav --labels "dog,cat" --expect dog --min-score 0.5   # exit 4 if not met

  clap classify cat.jpg photos/ --model altclip --labels "一只猫,一只狗,a car"   # images, any language

Exit codes: 0 ok, 1 error, 2 usage, 3 some inputs failed (the rest are written), 4 --expect not met.
"""


def classify(
    inputs: InputsArg = None,
    labels: Annotated[list[str] | None, typer.Option("--labels", "-l", help="Comma-separated labels; repeatable.",
                                                     show_default=False)] = None,
    labels_file: Annotated[str | None, typer.Option("--labels-file", help="One label per line (- for stdin).",
                                                    show_default=False)] = None,
    template: Annotated[str | None, typer.Option(
        "--template", help="Prompt around each label, {} = the label. Default: the model's "
        "(\"This is a sound of {}.\" for CLAP, \"a photo of {}.\" for image models).", show_default=False)] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Labels reported per input.")] = 5,
    fmt: Annotated[RecordFormat | None, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
                                                     help="table, csv, json or jsonl. Default: table on a "
                                            "terminal, csv when piped, else from --output's extension.",
                                            show_default=False)] = None,
    output: OutputOpt = None,
    expect: Annotated[str | None, typer.Option("--expect", help="CI check: exit 4 unless every input's top label is "
                                               "this.", show_default=False)] = None,
    min_score: Annotated[float | None, typer.Option("--min-score", min=0.0, max=1.0, help="CI check: exit 4 unless "
                                                    "every top score is at least this.", show_default=False)] = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = "auto",
    quantize: QuantizeOpt = None,
    long_audio: LongAudioOpt = None,
    runtime: RuntimeOpt = None,
    precision: PrecisionOpt = None,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Score each input against text labels (zero-shot) and report the best ones."""
    from clapcli.commands.common import FailureLog, ModelOptions, collect_sources, kept_on_interrupt, kept_rows
    from clapcli.commands.output import Output
    from clapcli.core.classify import check_expectation, classify_media, prepare_labels
    from clapcli.errors import ExpectationError, UsageError
    from clapcli.io.readers import read_text_file
    from clapcli.io.writers import default_record_format, record_writer
    from clapcli.results import FailedInput

    if not inputs:
        raise UsageError("give at least one input file, directory, glob or - (see clap classify --help)")
    label_list = split_values(labels) + (read_text_file(labels_file, "labels") if labels_file else [])
    if expect is not None and expect not in label_list:
        raise UsageError(f"--expect '{expect}' is not one of the labels")
    fmt = default_record_format(fmt, output)
    columns = ["path", "rank", "label", "score"] if fmt in ("table", "csv") else []
    sink = record_writer(fmt, output, overwrite, columns)
    loaded = ModelOptions(model, device, dtype, quantize, long_audio, runtime, precision).load()
    label_set = prepare_labels(loaded, label_list, template)
    sources = collect_sources(inputs, loaded.modality)
    out = Output(quiet)
    failures = FailureLog(out)
    unmet: list[str] = []
    done = 0
    inputs = plural(len(sources), "input")
    with kept_on_interrupt(lambda: kept_rows(sink, None, "rows") + f" ({done} of {inputs} classified)"), \
            sink, out.progress(len(sources), "classifying") as advance:
        for result in classify_media(loaded, sources, label_set, top_k, batch_size, workers, advance):
            if isinstance(result, FailedInput):
                failures.add(result)
                sink.write_failure(result.source, result.reason)
                continue
            done += 1
            for record in _records(result, fmt):
                sink.write(record)
            try:
                check_expectation(result, expect, min_score)
            except ExpectationError as exc:
                unmet.append(str(exc))
    if unmet:
        for message in unmet:
            out.expectation_failed(message)
        error = ExpectationError(f"{len(unmet)} of {plural(done, 'input')} did not meet the expectation")
        error.reported = True
        raise error
    failures.finish(done, "inputs classified")


def _records(result, fmt: str) -> list[dict]:
    if fmt in ("json", "jsonl"):
        return [{
            "path": result.source,
            "duration": None if result.duration is None else round(result.duration, 6),
            "predictions": [{"label": p.label, "score": p.score} for p in result.predictions],
        }]
    return [
        {"path": result.source if rank == 1 or fmt == "csv" else "", "rank": rank, "label": p.label, "score": p.score}
        for rank, p in enumerate(result.predictions, start=1)
    ]


def register(app: typer.Typer) -> None:
    app.command("classify", epilog=EPILOG)(classify)
