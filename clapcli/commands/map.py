"""``clap map``: a 2-D map of a library collection (PNG, or coordinates as CSV/JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clapcli.console.options import CollectionOpt, DbOpt, OverwriteOpt, QuietOpt, RecordFormat, choices, plain

EPILOG = """\
Examples:

  clap map --db library.db -o map.png                      # UMAP, coloured by top tag (else folder)

  clap map --db library.db --method pca --format csv > map.csv

  clap map --db library.db -o map.png --color-by folder --seed 7

The same library, method and --seed give the same coordinates. pca needs nothing more; umap and tsne
need pip install 'clapcli[map]', a PNG pip install 'clapcli[plot]'.
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
FormatOpt = Annotated[RecordFormat | None, typer.Option(
    "--format", "-f", case_sensitive=False, callback=plain, help="Coordinates as table, csv, json or jsonl. "
    "Default: from --output's extension, table on a terminal, csv when piped.", show_default=False)]


def map_command(
    db: DbOpt = None,
    collection: CollectionOpt = None,
    method: MethodOpt = "umap",  # type: ignore[assignment]
    seed: SeedOpt = 0,
    color_by: ColourOpt = "auto",  # type: ignore[assignment]
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    quiet: QuietOpt = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Draw a library collection's embeddings in 2-D (UMAP, t-SNE or PCA), coloured by tag or folder."""
    from clapcli.console.output import Output
    from clapcli.core.mapping import library_map, plot_map
    from clapcli.errors import UsageError
    from clapcli.io.writers import check_output_path, default_record_format, record_writer
    from clapcli.settings import DEFAULT_COLLECTION

    png = output is not None and output.suffix.lower() == ".png"
    if png and fmt is not None:
        raise UsageError("--format is for coordinates; a .png --output draws the map (drop one)")
    if output is not None:
        check_output_path(output, overwrite)
    name = collection or DEFAULT_COLLECTION
    points, colour = library_map(db, name, str(method), seed, str(color_by))
    if png:
        assert output is not None
        plot_map(points, output, overwrite, f"{name}: {len(points)} items, {method}, coloured by {colour}")
        Output(quiet).note(f"{output}: map of {len(points)} items ({method}, seed {seed}, coloured by {colour})")
        return
    with record_writer(default_record_format(fmt, output), output, overwrite, ["path", "x", "y", colour]) as sink:
        for point in points:
            sink.write({"path": point.path, "x": round(point.x, 6), "y": round(point.y, 6), colour: point.group})


def register(app: typer.Typer) -> None:
    app.command("map", epilog=EPILOG)(map_command)
