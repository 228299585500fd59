"""``clap dedupe``: groups of near-duplicate files in a library or among files, with a file to keep."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from clapcli.console.options import (
    FROM_FLAGS,
    BatchSizeOpt,
    CollectionOpt,
    DbOpt,
    InputsArg,
    OutputOpt,
    OverwriteOpt,
    QuietOpt,
    RecordFormat,
    WorkersOpt,
    plain,
    with_model_options,
)

if TYPE_CHECKING:
    from clapcli.console.common import ModelOptions

EPILOG = """\
Examples:

  clap dedupe --db library.db                           # the library's default collection

  clap dedupe ~/samples ~/downloads                     # files: embedded now (nothing stored)

  clap dedupe --db library.db --format csv -o dupes.csv

  clap dedupe --db library.db --approximate             # a large library: faiss candidates (clapcli[faiss])

  clap dedupe --db library.db --format json | jq -r '.[] | select(.keep == false) | .path'

It never deletes, moves or changes a file: it lists groups, one row per file, with the file it suggests
keeping (lossless over lossy, then higher sample rate, then bit depth, then the longer file) and why.
Pairs are candidates when their embeddings' cosine similarity is at least --threshold, then confirmed:
durations within --duration-tolerance, and Chromaprint fingerprints alike (files under ~3 s have none
and are confirmed by duration). Fingerprints come from libchromaprint through pyacoustid
(pip install 'clapcli[dedupe]'), else the fpcalc program (apt-get install libchromaprint-tools);
the run says which one it uses, or that fingerprint confirmation is off.
Exit codes: 0 ok (with or without duplicates), 1 error, 2 usage, 3 some files failed (the rest are grouped).
"""

COLUMNS = ["group", "keep", "path", "similarity", "fingerprint", "duration", "format", "rate", "bits", "reason"]

ThresholdOpt = Annotated[float, typer.Option(
    "--threshold", min=0.0, max=1.0, help="Cosine similarity from which two files are candidates "
    "(docs/library-tools.md: clapback measured 0.9972-0.9995 for two rips of one master with LAION CLAP).")]
NeighboursOpt = Annotated[int, typer.Option("--neighbours", min=1, help="Nearest neighbours examined per file "
                                            "(a group larger than this is still found through its members).")]
ToleranceOpt = Annotated[float, typer.Option(
    "--duration-tolerance", min=0.0, help="Seconds two durations may differ (at most 5% of the longer).")]
FingerprintOpt = Annotated[bool, typer.Option(
    "--fingerprint/--no-fingerprint", help="Confirm pairs with Chromaprint fingerprints when available "
    "(libchromaprint via clapcli\\[dedupe], else fpcalc).")]
ApproximateOpt = Annotated[bool, typer.Option(
    "--approximate", help="Candidates from a faiss index built in memory (never saved beside the library): "
    "much faster on a large library; needs clapcli\\[faiss].")]
FormatOpt = Annotated[RecordFormat | None, typer.Option(
    "--format", "-f", case_sensitive=False, callback=plain, help="table, csv, json or jsonl. Default: table on a "
    "terminal, csv when piped, else from --output's extension.", show_default=False)]


@with_model_options(exclude=("quantize",))
def dedupe(
    inputs: InputsArg = None,
    db: DbOpt = None,
    collection: CollectionOpt = None,
    threshold: ThresholdOpt = 0.98,
    neighbours: NeighboursOpt = 10,
    duration_tolerance: ToleranceOpt = 0.5,
    fingerprint: FingerprintOpt = True,
    approximate: ApproximateOpt = False,
    batch_size: BatchSizeOpt = None,
    workers: WorkersOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    model_options: ModelOptions = FROM_FLAGS,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Find near-duplicate files (re-encoded, resampled, another gain, trimmed a little); never deletes any."""
    from clapcli.console.common import FailureLog
    from clapcli.console.output import Output
    from clapcli.core import chromaprint
    from clapcli.core.dedupe import DedupeOptions, find_duplicates
    from clapcli.errors import UsageError
    from clapcli.io.writers import check_output_path, default_record_format

    if inputs and (db is not None or collection is not None):
        raise UsageError("give files to embed now, or --db/--collection to read a library, not both")
    options = DedupeOptions(threshold, neighbours, duration_tolerance, fingerprint, approximate).check()
    fmt = default_record_format(fmt, output)
    if output is not None:
        check_output_path(output, overwrite)
    out = Output(quiet)
    failures = FailureLog(out)
    backend = chromaprint.backend_name() if fingerprint else None
    _say_fingerprints(out, fingerprint, backend)
    if inputs:
        items, vectors = _embed_files(inputs, model_options, batch_size, workers, out, failures)
    else:
        from clapcli.core.dedupe import library_items
        from clapcli.settings import DEFAULT_COLLECTION

        items, vectors = library_items(db, collection or DEFAULT_COLLECTION)
    with out.progress(None, "confirming pairs") as advance:
        report = find_duplicates(items, vectors, options, chromaprint.fingerprinter(backend) if backend else None,
                                 backend, on_progress=advance)
    _write(report, fmt, output, overwrite)
    copies = sum(len(group.members) - 1 for group in report.groups)
    out.note(f"{len(report.groups)} groups of duplicates among {report.items} files ({copies} files beyond the "
             f"one to keep); {report.candidates} candidate pairs, rejected by duration {report.rejected['duration']}"
             f", by fingerprint {report.rejected['fingerprint']}; nothing was deleted or moved")
    failures.finish(len(items), "files compared", summary=False)


def _say_fingerprints(out: Any, wanted: bool, backend: str | None) -> None:
    if not wanted:
        out.note("fingerprint confirmation off (--no-fingerprint): pairs are confirmed by duration only")
    elif backend is None:
        out.note("fingerprint confirmation is off (no Chromaprint found): pip install 'clapcli[dedupe]' "
                 "(or apt-get install libchromaprint-tools for fpcalc)")
    else:
        out.note(f"fingerprint confirmation: {'libchromaprint (pyacoustid)' if backend == 'chromaprint' else 'fpcalc'}")


def _embed_files(inputs: list[str], model_options: Any, batch_size: int | None, workers: int | None, out: Any,
                 failures: Any) -> tuple[list, Any]:
    from clapcli.console.common import collect_sources, count_inputs
    from clapcli.core.dedupe import embedded_items
    from clapcli.core.pipeline import encode_stream
    from clapcli.results import FailedInput

    loaded = model_options.load(count_inputs(inputs), out.quiet)
    sources = collect_sources(inputs, loaded.modality)
    results = []
    with out.progress(len(sources), "embedding") as advance:
        for result in encode_stream(sources, loaded, batch_size, workers, advance):
            if isinstance(result, FailedInput):
                failures.add(result)
            else:
                results.append(result)
    return embedded_items(results)


def _write(report: Any, fmt: str, output: Any, overwrite: bool) -> None:
    from clapcli.io.writers import record_writer

    with record_writer(fmt, output, overwrite, COLUMNS) as sink:
        for group in report.groups:
            for member in group.members:
                quality = member.quality
                sink.write({
                    "group": group.number, "keep": member.keep, "path": member.path,
                    "similarity": round(member.similarity, 6),
                    "fingerprint": None if member.fingerprint is None else round(member.fingerprint, 4),
                    "duration": None if quality.duration is None else round(quality.duration, 3),
                    "format": quality.format, "rate": quality.rate, "bits": quality.bits, "reason": member.reason,
                })


def register(app: typer.Typer) -> None:
    app.command("dedupe", epilog=EPILOG)(dedupe)
