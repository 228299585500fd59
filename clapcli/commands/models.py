"""``clap models``: the aliases and families clapcli knows."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from clapcli.console.options import RecordFormat, plain


def models(
    fmt: Annotated[RecordFormat | None, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
            help="table, csv, json or jsonl.",
                                            show_default=False)] = None,
) -> None:
    """List model aliases (usable with --model), the families they belong to and the runtime each runs on."""
    from clapcli.io.writers import default_record_format, record_writer
    from clapcli.models import registry
    from clapcli.models.runtime.auto import describe

    fmt = default_record_format(fmt, None)
    columns = ["alias", "model", "used_by", "runtime"]
    with record_writer(fmt, None, False, columns, title="clapcli models") as sink:
        for alias, target in registry.EMBEDDING_ALIASES.items():
            used_by = "detect (frames), embed, classify, retrieve" if alias in registry.FRAME_ALIASES else \
                "embed, classify, retrieve"
            sink.write({"alias": alias, "model": target, "used_by": used_by,
                        "runtime": describe(target)})
        for alias, target in registry.GENERATION_ALIASES.items():
            sink.write({"alias": alias, "model": target, "used_by": "generate", "runtime": "torch"})
    if fmt == "table":
        _notes(registry)


def _notes(registry: Any) -> None:
    from clapcli.console.output import Output
    from clapcli.models.runtime.auto import EXPORT_PAYS_FROM, fastest_installed

    out = Output()
    families = ", ".join(f"{f.name} ({f.description})" for f in registry.FAMILIES.values())
    out.note(f"families: {families}; any local directory or hub id of these families works too.")
    target = fastest_installed()
    if target != "torch":
        out.note(f"runtime: with no --runtime (or CLAPCLI_RUNTIME), a model that exports runs on {target} once "
                 f"exported, with results equal to torch's within 1e-6: a job of {EXPORT_PAYS_FROM}+ files "
                 "exports it into the cache (once, ~15 s for LAION CLAP), as does 'clap export'; smaller jobs "
                 "run on torch until then. --runtime torch or CLAPCLI_RUNTIME=torch keeps torch.")


def register(app: typer.Typer) -> None:
    app.command("models")(models)
