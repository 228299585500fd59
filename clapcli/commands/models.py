"""``clap models``: the aliases and families clapcli knows; ``clap models alias add|list|rm``: the user's own."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from clapcli.console.options import QuietOpt, RecordFormat, plain

ALIAS_EPILOG = """\
Examples:

  clap models alias add birds ./my-bird-clap          # a local directory (stored as its absolute path)

  clap models alias add music-tags laion/larger_clap_music

  clap classify x.wav --model birds --labels "wren,robin"

  clap models alias rm birds
"""

FormatOpt = Annotated[RecordFormat | None, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
                                                        help="table, csv, json or jsonl.", show_default=False)]

models_app = typer.Typer(name="models", help="List model aliases (usable with --model) and manage your own.",
                         invoke_without_command=True, rich_markup_mode="rich")
alias_app = typer.Typer(name="alias", help="Your own model aliases (kept in the config file).",
                        no_args_is_help=True, epilog=ALIAS_EPILOG, rich_markup_mode="rich")
models_app.add_typer(alias_app, name="alias")


@models_app.callback()
def models(ctx: typer.Context, fmt: FormatOpt = None) -> None:
    """List model aliases (usable with --model), the families they belong to and the runtime each runs on;
    'clap models alias add NAME MODEL' adds your own."""
    if ctx.invoked_subcommand is not None:
        return
    from clapcli.core.config import aliases
    from clapcli.io.writers import default_record_format, record_writer
    from clapcli.models import registry
    from clapcli.models.runtime.auto import describe

    fmt = default_record_format(fmt, None)
    columns = ["alias", "model", "used_by", "runtime", "source"]
    with record_writer(fmt, None, False, columns, title="clapcli models") as sink:
        for alias, target in aliases().items():
            sink.write({"alias": alias, "model": target, "used_by": "any command (its family decides)",
                        "runtime": describe(target), "source": "yours"})
        for alias, target in registry.EMBEDDING_ALIASES.items():
            used_by = "detect (frames), embed, classify, retrieve" if alias in registry.FRAME_ALIASES else \
                "embed, classify, retrieve"
            sink.write({"alias": alias, "model": target, "used_by": used_by,
                        "runtime": describe(target), "source": "built in"})
        for alias, target in registry.GENERATION_ALIASES.items():
            sink.write({"alias": alias, "model": target, "used_by": "generate", "runtime": "torch",
                        "source": "built in"})
    if fmt == "table":
        _notes(registry)


@alias_app.command("add", epilog=ALIAS_EPILOG)
def alias_add(
    name: Annotated[str, typer.Argument(help="The alias, e.g. birds.", show_default=False)],
    model: Annotated[str, typer.Argument(help="A local model directory, a hub id or a built-in alias.",
                                         show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace an alias of yours of the same name.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Add NAME as an alias of MODEL, usable with --model in every command."""
    from clapcli.console.output import Output
    from clapcli.core.config import add_alias

    target = add_alias(name, model, force)
    Output(quiet).note(f"alias {name} -> {target}")


@alias_app.command("list", epilog=ALIAS_EPILOG)
def alias_list(fmt: FormatOpt = None) -> None:
    """Your aliases and what each names."""
    from clapcli.core.config import aliases
    from clapcli.io.writers import default_record_format, record_writer

    fmt = default_record_format(fmt, None)
    with record_writer(fmt, None, False, ["alias", "model"], title="your model aliases") as sink:
        for alias, target in aliases().items():
            sink.write({"alias": alias, "model": target})


@alias_app.command("rm", epilog=ALIAS_EPILOG)
def alias_rm(name: Annotated[str, typer.Argument(help="One of your aliases.", show_default=False)],
             quiet: QuietOpt = False) -> None:
    """Remove one of your aliases (the model it names is not touched)."""
    from clapcli.console.output import Output
    from clapcli.core.config import remove_alias

    target = remove_alias(name)
    Output(quiet).note(f"alias {name} removed (it named {target})")


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
    app.add_typer(models_app, name="models")
