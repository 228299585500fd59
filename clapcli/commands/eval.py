"""``clap eval classify`` / ``clap eval retrieve``: checkpoints measured on labelled datasets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clapcli.commands.eval_files import check_classify_outputs, confusion_files, dataset_line
from clapcli.commands.eval_options import (
    AudioDirOpt,
    BootstrapOpt,
    ByFoldOpt,
    ConfusionOpt,
    DatasetArg,
    DbOpt,
    FoldColumnOpt,
    FoldOpt,
    FormatOpt,
    LabelColumnOpt,
    LabelsFileOpt,
    LayoutOpt,
    ModelsOpt,
    PathColumnOpt,
    PlotOpt,
    PresetOpt,
    ProbeShotsOpt,
    ReportOpt,
    SkipMissingOpt,
    TemplateOpt,
)
from clapcli.commands.eval_probe import shot_counts, with_method, with_probe_rows
from clapcli.console.options import (
    FROM_FLAGS,
    BatchSizeOpt,
    OutputOpt,
    OverwriteOpt,
    QuietOpt,
    WorkersOpt,
    with_model_options,
)
from clapcli.text import plural

if TYPE_CHECKING:
    from clapcli.console.common import ModelOptions

CLASSIFY_EPILOG = """\
Examples:

  clap eval classify ESC-50-master/                       # layout detected: ESC-50, folds 1-5

  clap eval classify UrbanSound8K/ --fold 10 --model music-speech --model general

  clap eval classify my_sounds/ --format markdown         # any folder of class sub-folders

  clap eval classify labels.csv --report esc50.json       # path,label[,fold] CSV/TSV

  clap eval classify ESC-50-master/ --confusion cm.csv --plot cm.png --by-fold

  clap eval classify ESC-50-master/ --db eval.db --preset label   # 2nd run: only the text side

  clap eval classify ESC-50-master/ --probe-shots 1,4,16   # zero-shot vs few-shot probes, by fold

Layouts: ESC-50 (meta/esc50.csv), UrbanSound8K (metadata/UrbanSound8K.csv), GTZAN (genre folders), a folder
of class folders, or a CSV/TSV (columns path,label[,fold]; paths relative to it or to --audio). Template: the
dataset's protocol (ESC-50/UrbanSound8K "This is a sound of {}.", GTZAN "This is a {} song.", from LAION's
evaluation code), else the model's default; --preset or --template override it.
Exit codes: 0 ok, 1 error (malformed metadata: file and line named), 2 usage, 3 some clips failed.
"""

RETRIEVE_EPILOG = """\
Examples:

  clap eval retrieve clotho_captions_evaluation.csv --audio clotho/evaluation/

  clap eval retrieve audiocaps_test.csv --audio audiocaps/test/ --model fused --skip-missing

  clap eval retrieve pairs.csv --format json --report run.json   # generic path,caption CSV

Layouts: Clotho (file_name,caption_1..caption_5), AudioCaps (audiocap_id,youtube_id,start_time,caption; files
found by YouTube id), or any path,caption CSV (several rows per clip allowed). Metrics as LAION-CLAP's
evaluation defines them: text->audio R@1/5/10, mAP@10 (each caption a query), audio->text R@1/5/10 (a hit when
any of the clip's captions is in the top k), median ranks.
"""

TABLE_FORMATS = ("table", "csv", "json", "markdown", "md")

def _format(fmt: str | None, output: Path | None) -> str:
    from clapcli.io.writers import format_from_path

    if fmt is None and output is None:
        return "table" if sys.stdout.isatty() else "csv"
    chosen = format_from_path(output, fmt, TABLE_FORMATS, "csv")
    return "markdown" if chosen == "md" else chosen


def _sink(fmt: str, output: Path | None, overwrite: bool, columns: list[str], title: str):
    from clapcli.io.writers import record_writer
    from clapcli.io.writers.markdown import markdown_writer

    if fmt == "markdown":
        return markdown_writer(output, overwrite, columns)
    return record_writer(fmt, output, overwrite, columns if fmt in ("table", "csv") else [], title)


@with_model_options(exclude=("model",))
def classify(
    dataset: DatasetArg,
    model: ModelsOpt = None,
    layout: LayoutOpt = "auto",
    fold: FoldOpt = None,
    labels_file: LabelsFileOpt = None,
    template: TemplateOpt = None,
    preset: PresetOpt = None,
    audio: AudioDirOpt = None,
    path_column: PathColumnOpt = None,
    label_column: LabelColumnOpt = None,
    fold_column: FoldColumnOpt = None,
    skip_missing: SkipMissingOpt = False,
    by_fold: ByFoldOpt = False,
    bootstrap: BootstrapOpt = 1000,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    report: ReportOpt = None,
    confusion: ConfusionOpt = None,
    plot: PlotOpt = None,
    db: DbOpt = None,
    probe_shots: ProbeShotsOpt = None,
    model_options: ModelOptions = FROM_FLAGS,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Zero-shot accuracy (top-1/top-5), macro-F1, per-class accuracy, confusion and a 95% interval per checkpoint."""
    from clapcli.console.common import FailureLog
    from clapcli.console.output import Output
    from clapcli.core.eval import report as rep
    from clapcli.core.eval.classify import evaluate_classification
    from clapcli.core.eval.datasets import read_classification

    out = Output(quiet)
    data = read_classification(dataset, layout, audio, path_column, label_column, fold_column, skip_missing)
    data = data.select_folds(fold or [])
    texts, chosen_template, template_source = _prompts(data, labels_file, template, preset)
    models = model or [None]
    fmt = _format(fmt, output)
    check_classify_outputs(output, report, confusion, plot, models, overwrite)
    _describe(out, data.skipped, dataset_line(data))
    failures, runs = _Failures(FailureLog(out)), []
    shots = shot_counts(probe_shots, data)
    with _sink(fmt, output, overwrite, with_method(rep.CLASSIFY_COLUMNS, shots), f"clap eval classify {data.layout}"
               ) as sink:
        for name in models:
            loaded = model_options.with_model(name).load(len(data.items), quiet)
            with out.progress(len(data.items), f"embedding ({loaded.model_id})") as advance:
                result = evaluate_classification(loaded, data, texts, chosen_template, bootstrap, batch_size,
                                                 workers, advance, db)
            failures.add(result.failed)
            _write_rows(out, sink, with_probe_rows(result, data, by_fold, shots, bootstrap), result.reused, db)
            confusion_files(loaded, result, data, name, len(models) > 1, confusion, plot, overwrite)
            runs.append((_protocol_view(loaded), result, template_source))
            del loaded
    if report is not None:
        rep.write_json_report(report, rep.classify_report(runs, data, bootstrap, fold or []), overwrite)
    failures.finish(len(data.items), "items evaluated")


def _prompts(data: Any, labels_file: Path | None, template: str | None, preset: str | None) -> tuple:
    """The label texts (--labels-file, else the class names), the template and where it comes from."""
    from clapcli.core.eval.classify import display_labels
    from clapcli.core.eval.presets import resolve_template
    from clapcli.io.readers import read_text_file

    texts = display_labels(data, read_text_file(labels_file, "labels") if labels_file else None, str(labels_file))
    return (texts, *resolve_template(template, preset, data.layout))


def _describe(out: Any, skipped: int, what: str) -> None:
    if skipped:
        out.warning(f"{plural(skipped, 'metadata row')} left out: their file is missing (--skip-missing)")
    out.note(what)


def _write_rows(out: Any, sink: Any, rows: Any, reused: int, db: Path | None) -> None:
    if reused:
        out.note(f"{plural(reused, 'embedding')} reused from {db}")
    for row in rows:
        sink.write(row)


class _Failures:
    """Each failed clip named once, whatever the number of checkpoints that failed on it."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.named: set[str] = set()

    def add(self, failed: list) -> None:
        for failure in failed:
            if failure.source not in self.named:
                self.named.add(failure.source)
                self.log.add(failure)

    def finish(self, total: int, what: str) -> None:
        self.log.finish(total - len(self.named), what, summary=False)


def _protocol_view(model):
    """What the report needs of a model, without keeping its weights alive across checkpoints."""
    from types import SimpleNamespace

    return SimpleNamespace(**{k: getattr(model, k, None) for k in
                              ("model_id", "revision", "family", "long_audio", "sample_rate")})


@with_model_options(exclude=("model",))
def retrieve(
    captions: Annotated[Path, typer.Argument(help="Captions CSV: Clotho, AudioCaps or path,caption.",
                                             show_default=False, dir_okay=False)],
    audio: AudioDirOpt = None,
    model: ModelsOpt = None,
    layout: Annotated[str, typer.Option("--layout", help="auto, clotho, audiocaps or csv.")] = "auto",
    path_column: Annotated[str | None, typer.Option("--path-column", help="csv layout: the column with the file.",
                                                    show_default=False)] = None,
    caption_column: Annotated[str | None, typer.Option("--caption-column", help="csv layout: the caption column.",
                                                       show_default=False)] = None,
    skip_missing: SkipMissingOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    report: ReportOpt = None,
    db: DbOpt = None,
    model_options: ModelOptions = FROM_FLAGS,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Text->audio and audio->text retrieval figures (R@1/5/10, mAP@10, ranks) per checkpoint."""
    from clapcli.console.common import FailureLog
    from clapcli.console.output import Output
    from clapcli.core.eval import report as rep
    from clapcli.core.eval.captions import read_retrieval
    from clapcli.core.eval.retrieve import evaluate_retrieval

    out = Output(quiet)
    data = read_retrieval(captions, audio, layout, path_column, caption_column, skip_missing)
    fmt = _format(fmt, output)
    rep.check_outputs([p for p in (output, report) if p is not None], overwrite)
    clips = plural(len(data.clips), "clip")
    _describe(out, data.skipped, f"{data.layout}: {clips}, {plural(len(data.captions), 'caption')}")
    failures = _Failures(FailureLog(out))
    runs = []
    with _sink(fmt, output, overwrite, rep.RETRIEVE_COLUMNS, f"clap eval retrieve {data.layout}") as sink:
        for name in model or [None]:
            loaded = model_options.with_model(name).load(len(data.clips), quiet)
            with out.progress(len(data.clips), f"embedding ({loaded.model_id})") as advance:
                result = evaluate_retrieval(loaded, data, batch_size, workers, advance, db)
            failures.add(result.failed)
            for row in rep.retrieve_rows(result, data):
                sink.write(row)
            runs.append((_protocol_view(loaded), result))
            del loaded
    if report is not None:
        rep.write_json_report(report, rep.retrieve_report(runs, data), overwrite)
    failures.finish(len(data.clips), "clips evaluated")


def register(app: typer.Typer) -> None:
    eval_app = typer.Typer(
        name="eval", help="Measure checkpoints on labelled datasets (zero-shot classification, retrieval), with the "
        "papers' protocols.", no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
    )
    eval_app.command("classify", epilog=CLASSIFY_EPILOG)(classify)
    eval_app.command("retrieve", epilog=RETRIEVE_EPILOG)(retrieve)
    app.add_typer(eval_app, name="eval")
