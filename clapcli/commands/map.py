"""``clap map``: a 2-D map of a library collection (PNG, or coordinates as CSV/JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clapcli.console.options import (
    FROM_FLAGS,
    CollectionOpt,
    DbOpt,
    LabelsFileOpt,
    LabelsOpt,
    OverwriteOpt,
    QuietOpt,
    RecordFormat,
    choices,
    label_list,
    plain,
    with_model_options,
)

if TYPE_CHECKING:
    from clapcli.console.common import ModelOptions

EPILOG = """\
Examples:

  clap map --db library.db -o map.png                      # UMAP, coloured by top tag (else folder)

  clap map --db library.db --method pca --format csv > map.csv

  clap map --db library.db -o map.png --color-by folder --seed 7

  clap map --db library.db -o map.png --labels-file moods.txt --clusters 8

  clap map --db library.db --method pca --clusters 0 -o map.png     # no clusters: no model loaded

  clap map --db library.db -o map.png --fast          # UMAP on every core, not repeatable

Cluster labels: the items are grouped by k-means on their embeddings (--clusters, default about
sqrt(items/10), 2 to 12), and each cluster is named by the label whose prompt embeds nearest to the
cluster's mean embedding, with the library's own model (the text tower only). Labels come from --labels /
--labels-file, else the library's tags ('clap tag'), else a built-in list of general sound and music
categories. PNG: drawn at each cluster's centre; CSV/JSON: columns cluster and cluster_label.

The same library, method and --seed give the same coordinates and clusters. pca needs nothing more;
umap, tsne and the clusters need pip install 'clapcli[map]', a PNG pip install 'clapcli[plot]'.
"""

Method = choices("Method", ("umap", "tsne", "pca"))
ColourBy = choices("ColourBy", ("auto", "tag", "folder"))

OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write here: a .png draws the map; other extensions get the coordinates "
    "(.csv .json .jsonl). Default: coordinates on stdout.", show_default=False, dir_okay=False)]
MethodOpt = Annotated[Method, typer.Option("--method", case_sensitive=False, callback=plain,
                                           help="umap (umap-learn), tsne (scikit-learn) or pca.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of umap/tsne (pca needs none).")]
ColourOpt = Annotated[ColourBy, typer.Option(
    "--color-by", case_sensitive=False, callback=plain, help="tag (each item's top tag, from 'clap tag'), folder, "
    "or auto: tag when the collection has tags, else folder.")]
FastOpt = Annotated[bool, typer.Option(
    "--fast", help="UMAP unseeded, on every core: faster with more cores, but the coordinates differ from run to "
    "run (--seed then applies to the clusters only).")]
ClustersOpt = Annotated[int | None, typer.Option(
    "--clusters", min=0, help="How many clusters to label (0: none, and no model is loaded). Default: about "
    "sqrt(items/10), 2 to 12, and no more than the labels.", show_default=False)]
FormatOpt = Annotated[RecordFormat | None, typer.Option(
    "--format", "-f", case_sensitive=False, callback=plain, help="Coordinates as table, csv, json or jsonl. "
    "Default: from --output's extension, table on a terminal, csv when piped.", show_default=False)]


@with_model_options(exclude=("quantize",))
def map_command(
    db: DbOpt = None,
    collection: CollectionOpt = None,
    method: MethodOpt = "umap",  # type: ignore[assignment]
    seed: SeedOpt = 0,
    color_by: ColourOpt = "auto",  # type: ignore[assignment]
    clusters: ClustersOpt = None,
    fast: FastOpt = False,
    labels: LabelsOpt = None,
    labels_file: LabelsFileOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    model_options: ModelOptions = FROM_FLAGS,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Draw a library collection's embeddings in 2-D (UMAP, t-SNE or PCA), coloured by tag or folder, with
    cluster labels from the nearest text prompts."""
    from clapcli.console.output import Output
    from clapcli.core.mapping import library_map, plot_map
    from clapcli.errors import UsageError
    from clapcli.io.writers import check_output_path
    from clapcli.settings import DEFAULT_COLLECTION

    png = output is not None and output.suffix.lower() == ".png"
    if png and fmt is not None:
        raise UsageError("--format is for coordinates; a .png --output draws the map (drop one)")
    if output is not None:
        check_output_path(output, overwrite)
    name = collection or DEFAULT_COLLECTION
    prompts = label_list(labels, labels_file)
    if prompts and clusters == 0:
        raise UsageError("--labels/--labels-file name clusters; drop them or --clusters 0")
    if fast and str(method) != "umap":
        raise UsageError(f"--fast is for --method umap ({method} takes no shortcut); drop --fast")

    def load(built: str) -> object:  # the library's own model, unless --model names one (then checked)
        name = model_options.model or built
        Output(quiet).note(f"cluster labels: loading {name} for its text embeddings (--clusters 0: no labels, "
                           "no model)")
        return model_options.with_model(name).load(None, quiet)

    points, colour = library_map(db, name, str(method), seed, str(color_by), clusters=clusters, labels=prompts,
                                 load_model=load, fast=fast)
    if png:
        assert output is not None
        plot_map(points, output, overwrite, f"{name}: {len(points)} items, {method}, coloured by {colour}")
        seeded = "unseeded" if fast else f"seed {seed}"
        Output(quiet).note(f"{output}: map of {len(points)} items ({method}, {seeded}, coloured by {colour})")
        return
    _write_coordinates(points, colour, fmt, output, overwrite)


def _write_coordinates(points: list, colour: str, fmt: str | None, output: Path | None, overwrite: bool) -> None:
    """path, x, y, the colouring group and, when clustered, cluster and cluster_label: one record per item."""
    from clapcli.io.writers import default_record_format, record_writer

    labelled = any(point.cluster for point in points)
    columns = ["path", "x", "y", colour] + (["cluster", "cluster_label"] if labelled else [])
    with record_writer(default_record_format(fmt, output), output, overwrite, columns) as sink:
        for point in points:
            row = {"path": point.path, "x": round(point.x, 6), "y": round(point.y, 6), colour: point.group}
            if labelled:
                row.update(cluster=point.cluster, cluster_label=point.cluster_label)
            sink.write(row)


def register(app: typer.Typer) -> None:
    app.command("map", epilog=EPILOG)(map_command)
