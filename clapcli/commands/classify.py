"""``clap classify``: zero-shot classification of audio (or image) files against text labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from clapcli.console.options import (
    FROM_FLAGS,
    BatchSizeOpt,
    InputsArg,
    LabelsFileOpt,
    LabelsOpt,
    OutputOpt,
    OverwriteOpt,
    ProbeOpt,
    QuietOpt,
    RecordFormat,
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

  clap classify dog.wav sounds/ --labels "dog barking,cat meowing,rain"

  clap classify sounds/ --labels-file labels.txt --top-k 3 --format csv > predictions.csv

  find . -name '*.mp3' | clap classify - --labels "speech,music,noise" --format jsonl

  clap classify test.wav --labels "dog,cat" --expect dog --min-score 0.5   # exit 4 if not met

  clap classify cat.jpg photos/ --model altclip --labels "一只猫,一只狗,a car"   # images, any language

  clap classify street.wav --model pe-av-base --labels "car horn,siren,speech,dog" --threshold 0.5

Scoring (--scoring): softmax over the labels (they compete, scores sum to 1; the default for CLAP and
image models), or sigmoid per label (each label its own probability, multi-label; the default for
PE-Audio, trained that way with a learned bias; CLAP has no bias, so sigmoid is refused there).
--threshold keeps only the labels scoring at least that (still at most --top-k).

Exit codes: 0 ok, 1 error, 2 usage, 3 some inputs failed (the rest are written), 4 --expect not met.
"""


TemplateOpt = Annotated[str | None, typer.Option(
    "--template", help="Prompt around each label, {} = the label. Default: the model's "
    "(\"This is a sound of {}.\" for CLAP, \"a photo of {}.\" for image models).", show_default=False)]
TopKOpt = Annotated[int, typer.Option("--top-k", "-k", min=1, help="Labels reported per input.")]
FormatOpt = Annotated[RecordFormat | None, typer.Option(
    "--format", "-f", case_sensitive=False, callback=plain, help="table, csv, json or jsonl. Default: table on a "
    "terminal, csv when piped, else from --output's extension.", show_default=False)]
ExpectOpt = Annotated[str | None, typer.Option("--expect", help="CI check: exit 4 unless every input's top label is "
                                               "this.", show_default=False)]
ScoringOpt = Annotated[str | None, typer.Option(
    "--scoring", help="softmax (labels compete) or sigmoid (each label its own probability). Default: the "
    "model's (sigmoid for PE-Audio, softmax for CLAP).", show_default=False)]
ThresholdOpt = Annotated[float | None, typer.Option("--threshold", min=0.0, max=1.0, help="Report only labels "
                                                    "scoring at least this.", show_default=False)]
MinScoreOpt = Annotated[float | None, typer.Option("--min-score", min=0.0, max=1.0, help="CI check: exit 4 unless "
                                                   "every top score is at least this.", show_default=False)]


@with_model_options()
def classify(
    inputs: InputsArg = None,
    labels: LabelsOpt = None,
    labels_file: LabelsFileOpt = None,
    template: TemplateOpt = None,
    top_k: TopKOpt = 5,
    scoring: ScoringOpt = None,
    threshold: ThresholdOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    expect: ExpectOpt = None,
    min_score: MinScoreOpt = None,
    probe: ProbeOpt = None,
    model_options: ModelOptions = FROM_FLAGS,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Score each input against text labels (zero-shot) and report the best ones."""
    from clapcli.console.common import (
        FailureLog,
        collect_sources,
        count_inputs,
        kept_on_interrupt,
        kept_rows,
        probe_and_model,
    )
    from clapcli.console.output import Output
    from clapcli.core.classify import check_expected_label, classify_media, prepare_labels
    from clapcli.core.probe.classify import classify_with_probe
    from clapcli.errors import UsageError
    from clapcli.io.writers import default_record_format, record_writer

    if not inputs:
        raise UsageError("give at least one input file, directory, glob or - (see clap classify --help)")
    if probe is not None and (scoring is not None or threshold is not None):
        raise UsageError("--scoring and --threshold are for text labels; a probe scores its own classes (drop "
                         "them, or drop --probe)")
    trained, model_options = probe_and_model(probe, model_options, labels or labels_file or template)
    names = trained.classes if trained else label_list(labels, labels_file)
    check_expected_label(expect, names)
    fmt = default_record_format(fmt, output)
    sink = record_writer(fmt, output, overwrite, ["path", "rank", "label", "score"] if fmt in ("table", "csv") else [])
    loaded = model_options.load(count_inputs(inputs), quiet)
    if trained:
        trained.check_model(loaded.model_id, loaded.embedding_dim)
    label_set = None if trained else prepare_labels(loaded, names, template, scoring)
    sources = collect_sources(inputs, loaded.modality)
    out = Output(quiet)
    failures = FailureLog(out)
    run = _Run()
    with kept_on_interrupt(lambda: kept_rows(sink, None, "rows") + f" ({run.done} of {len(sources)} inputs "
                           "classified)"), sink, out.progress(len(sources), "classifying") as advance:
        results = (classify_with_probe(loaded, sources, trained, top_k, batch_size, workers, advance) if trained
                   else classify_media(loaded, sources, label_set, top_k, batch_size, workers, advance, threshold))
        run.write(results, sink, fmt, failures, expect, min_score)
    run.report_unmet(out)
    failures.finish(run.done, "inputs classified")


class _Run:
    """The results of one run as they come: rows written, failures named, unmet expectations kept for the end."""

    def __init__(self) -> None:
        self.done = 0
        self.unmet: list[str] = []

    def write(self, results: Any, sink: Any, fmt: str, failures: Any, expect: str | None,
              min_score: float | None) -> None:
        from clapcli.core.classify import check_expectation
        from clapcli.errors import ExpectationError
        from clapcli.results import FailedInput

        for result in results:
            if isinstance(result, FailedInput):
                failures.add(result)
                sink.write_failure(result.source, result.reason)
                continue
            self.done += 1
            for record in _records(result, fmt):
                sink.write(record)
            try:
                check_expectation(result, expect, min_score)
            except ExpectationError as exc:
                self.unmet.append(str(exc))

    def report_unmet(self, out: Any) -> None:
        """Each unmet expectation on stderr, then exit 4 (``ExpectationError``, already reported)."""
        from clapcli.errors import ExpectationError

        if not self.unmet:
            return
        for message in self.unmet:
            out.expectation_failed(message)
        error = ExpectationError(f"{len(self.unmet)} of {plural(self.done, 'input')} did not meet the expectation")
        error.reported = True
        raise error


def _records(result, fmt: str) -> list[dict]:
    if fmt in ("json", "jsonl"):
        return [result.to_dict()]
    return [
        {"path": result.source if rank == 1 or fmt == "csv" else "", "rank": rank, "label": p.label, "score": p.score}
        for rank, p in enumerate(result.predictions, start=1)
    ]


def register(app: typer.Typer) -> None:
    app.command("classify", epilog=EPILOG)(classify)
