"""``clap train``: a few-shot linear probe on frozen embeddings, for classify/detect/eval ``--probe``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clapcli.commands.eval_options import (
    AudioDirOpt,
    DatasetArg,
    DbOpt,
    LabelColumnOpt,
    LayoutOpt,
    PathColumnOpt,
    SkipMissingOpt,
    TemplateOpt,
)
from clapcli.console.options import FROM_FLAGS, BatchSizeOpt, QuietOpt, WorkersOpt, with_model_options
from clapcli.text import plural

if TYPE_CHECKING:
    from clapcli.console.common import ModelOptions

EPILOG = """\
Examples:

  clap train sounds-by-class/ -o my-probe/          # one sub-folder per class

  clap train labels.csv -o my-probe/ --model msclap-2023 --db cache.db   # path,label; embeddings cached

  clap train tags.csv -o tagger/ --multi-label      # path,labels with 'a;b' (or a file on several rows)

  clap classify new/*.wav --probe my-probe/         # then: the probe's model and classes

Inputs: the layouts of 'clap eval classify' (class folders, CSV/TSV path,label, ESC-50, UrbanSound8K,
GTZAN). The probe: logistic regression on normalised embeddings, blended with the zero-shot prompts of the
class names; strength and blend chosen by cross-validation (zero-shot kept unless the probe beats it
clearly). Needs scikit-learn: pip install 'clapcli[train]'.
Exit codes: 0 ok, 1 error, 2 usage, 3 some files failed (the probe is trained on the others).
"""

ProbeOutOpt = Annotated[Path, typer.Option("--output", "-o", help="Directory to write the probe to (weights, "
                                           "classes, manifest).", show_default=False, file_okay=False)]
MultiLabelOpt = Annotated[bool, typer.Option("--multi-label", help="Several labels per file (one-vs-rest, "
                                             "sigmoid): a CSV/TSV with 'a;b' labels or a file on several rows.")]
OverwriteDirOpt = Annotated[bool, typer.Option("--overwrite", help="Replace a probe directory written by an "
                                               "earlier 'clap train'.")]


@with_model_options()
def train(
    dataset: DatasetArg,
    output: ProbeOutOpt,
    multi_label: MultiLabelOpt = False,
    layout: LayoutOpt = "auto",
    audio: AudioDirOpt = None,
    path_column: PathColumnOpt = None,
    label_column: LabelColumnOpt = None,
    skip_missing: SkipMissingOpt = False,
    template: TemplateOpt = None,
    db: DbOpt = None,
    model_options: ModelOptions = FROM_FLAGS,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteDirOpt = False,
) -> None:
    """Teach it your sounds: train a probe from labelled examples (folders or a CSV)."""
    from clapcli.console.common import FailureLog
    from clapcli.console.output import Output
    from clapcli.core.probe.data import read_training_set
    from clapcli.core.probe.fit import check_targets
    from clapcli.core.probe.store import check_probe_output, save_probe
    from clapcli.core.probe.train import embed_training_set, fit_embedded

    out = Output(quiet)
    data = read_training_set(dataset, multi_label, layout, audio, path_column, label_column, skip_missing)
    check_targets(data.targets, data.classes, data.multi_label)
    check_probe_output(output, overwrite)
    if data.skipped:
        out.warning(f"{plural(data.skipped, 'metadata row')} left out: their file is missing (--skip-missing)")
    out.note(f"{plural(len(data.paths), 'file')}, {plural(len(data.classes), 'class', 'classes')}")
    loaded = model_options.load(len(data.paths), quiet)
    with out.progress(len(data.paths), f"embedding ({loaded.model_id})") as advance:
        embedded = embed_training_set(loaded, data, batch_size, workers, advance, db)
    failures = FailureLog(out)
    for failure in embedded.failed:
        failures.add(failure)
    if embedded.reused:
        out.note(f"{plural(embedded.reused, 'embedding')} reused from {db}")
    trained = fit_embedded(loaded, embedded, template)
    save_probe(trained.probe, output, overwrite)
    out.summary(summary_line(trained, output))
    failures.finish(len(embedded.data.paths), "files trained on", summary=False)


def summary_line(trained, output: Path) -> str:
    """'probe written to DIR: 3 classes, 12 files; cross-validated accuracy 0.917 [0.833, 1.000] ...'"""
    fit, data = trained.fit, trained.probe.manifest["training"]
    head = (f"probe written to {output}: {plural(len(trained.probe.classes), 'class', 'classes')}, "
            f"{plural(data['files'], 'file')}")
    kind = "label accuracy" if trained.probe.multi_label else "accuracy"
    if fit.cv_score is None:
        return (f"{head}; too few examples per class to cross-validate (defaults: C {fit.C:g}, zero-shot weight "
                f"{fit.blend:g})")
    low, high = fit.cv_interval
    return (f"{head}; cross-validated {kind} {fit.cv_score:.3f} [{low:.3f}, {high:.3f}] ({fit.folds} folds; "
            f"zero-shot {fit.zero_shot_cv_score:.3f}); C {fit.C:g}, zero-shot weight {fit.blend:g}")


def register(app: typer.Typer) -> None:
    app.command("train", epilog=EPILOG)(train)
