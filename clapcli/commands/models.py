"""``clap models``: the aliases and families clapcli knows."""

from __future__ import annotations

from typing import Annotated

import typer

from clapcli.console.options import RecordFormat, plain


def models(
    fmt: Annotated[RecordFormat | None, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
            help="table, csv, json or jsonl.",
                                            show_default=False)] = None,
) -> None:
    """List model aliases (usable with --model) and the families they belong to."""
    from clapcli.io.writers import default_record_format, record_writer
    from clapcli.models import registry

    fmt = default_record_format(fmt, None)
    with record_writer(fmt, None, False, ["alias", "model", "used_by"], title="clapcli models") as sink:
        for alias, target in registry.EMBEDDING_ALIASES.items():
            sink.write({"alias": alias, "model": target, "used_by": "embed, classify, retrieve"})
        for alias, target in registry.GENERATION_ALIASES.items():
            sink.write({"alias": alias, "model": target, "used_by": "generate"})
    if fmt == "table":
        from clapcli.console.output import Output

        families = ", ".join(f"{f.name} ({f.description})" for f in registry.FAMILIES.values())
        Output().note(f"families: {families}; any local directory or hub id of these families works too.")


def register(app: typer.Typer) -> None:
    app.command("models")(models)
