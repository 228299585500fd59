"""``clap tag``: zero-shot tag scores for the items of a library collection, stored in the library."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from clapcli.console.options import (
    FROM_FLAGS,
    CollectionOpt,
    DbOpt,
    LabelsFileOpt,
    LabelsOpt,
    QuietOpt,
    label_list,
    with_model_options,
)
from clapcli.text import plural

if TYPE_CHECKING:
    from clapcli.console.common import ModelOptions

EPILOG = """\
Examples:

  clap tag --db library.db --labels-file tags.txt       # one label per line

  clap tag --db library.db --labels "ambient,drums,vocals,bass"

  clap retrieve "warm pad" --db library.db --where "tag:ambient>0.5" --where "duration<30"

  clap library info --db library.db                     # how many items have each tag on top

Scores are clap classify's (softmax over the labels), computed from the vectors already in the library:
only the labels go through the model, the collection's own. A collection has one label set: tagging with
another set replaces the old scores. Interrupted? Run the same command again: items already scored are
skipped. A file embedded again later loses its scores until the next 'clap tag'.
"""

TemplateOpt = Annotated[str | None, typer.Option(
    "--template", help="Prompt around each label, {} = the label. Default: the model's "
    "(\"This is a sound of {}.\" for CLAP).", show_default=False)]


@with_model_options(exclude=("quantize",))
def tag(
    db: DbOpt = None,
    collection: CollectionOpt = None,
    labels: LabelsOpt = None,
    labels_file: LabelsFileOpt = None,
    template: TemplateOpt = None,
    model_options: ModelOptions = FROM_FLAGS,
    quiet: QuietOpt = False,
) -> None:
    """Score every item of a library collection against text labels (zero-shot) and store the scores."""
    from clapcli.console.common import kept_on_interrupt
    from clapcli.console.output import Output
    from clapcli.core.tagging import tag_collection
    from clapcli.errors import UsageError
    from clapcli.settings import DEFAULT_COLLECTION
    from clapcli.store import open_store
    from clapcli.store.tags import tagged_count

    names = label_list(labels, labels_file)
    if not names:
        raise UsageError("give the tags: --labels \"a,b\" or --labels-file FILE (one per line)")
    out = Output(quiet)
    name = collection or DEFAULT_COLLECTION
    with open_store(db, create=False) as store:  # a writer: a library from before tags is migrated here
        target = store.collection(name, create=False)
        options = model_options if model_options.model is not None else model_options.with_model(target.model_id)
        loaded = options.load(None, quiet)
        total = target.count()

        def kept() -> str:
            return (f"{plural(tagged_count(target), 'item')} of {total} in {store.path} '{name}' have tag scores; "
                    "rerun the same command to resume")

        with kept_on_interrupt(kept), out.progress(total, "tagging") as advance:
            summary = tag_collection(target, loaded, names, template, advance,
                                     on_start=lambda todo: advance(total - todo))
    if summary.replaced:
        out.note(f"the scores of another label set were dropped from {plural(summary.replaced, 'item')}")
    out.note(f"{store.path} '{name}': {summary.tagged} tagged, {summary.already} already tagged, "
             f"{len(dict.fromkeys(names))} labels")


def register(app: typer.Typer) -> None:
    app.command("tag", epilog=EPILOG)(tag)
