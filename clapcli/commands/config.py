"""``clap config set|get|list|unset|path``: defaults kept in a TOML file in the platform's config folder."""

from __future__ import annotations

from typing import Annotated

import typer

from clapcli.console.options import QuietOpt, RecordFormat, plain

EPILOG = """\
Settings: model, device, runtime, home, hub_timeout. A flag wins over CLAPCLI_<NAME>, which wins over the
file, which wins over the default.

Examples:

  clap config set model msclap-2023          # every command's default model

  clap config set runtime torch              # never export (as CLAPCLI_RUNTIME=torch)

  clap config list                           # each setting, its value and where it comes from

  clap config get model                      # the value alone, for scripts

  clap config unset model
"""

config_app = typer.Typer(
    name="config", help="Set clapcli's defaults (model, device, runtime, home, hub_timeout) in a config file.",
    no_args_is_help=True, epilog=EPILOG, rich_markup_mode="rich",
)

KeyArg = Annotated[str, typer.Argument(help="model, device, runtime, home or hub_timeout.", show_default=False)]


@config_app.command("set", epilog=EPILOG)
def set_(key: KeyArg,
         value: Annotated[str, typer.Argument(help="The value (checked before it is written).", show_default=False)],
         quiet: QuietOpt = False) -> None:
    """Write KEY = VALUE to the config file."""
    from clapcli.console.output import Output
    from clapcli.core.config import set_value

    out = Output(quiet)
    now, path = set_value(key, value)
    written = now.in_file if now.in_file is not None else value
    out.note(f"{now.key} = {written} (in {path})")
    if now.source != "config file":
        out.warning(f"{now.source}={now.value} is set in the environment and wins over the file; unset it for "
                    "the file's value to apply")


@config_app.command("get", epilog=EPILOG)
def get(key: KeyArg) -> None:
    """Print the value KEY has now (from CLAPCLI_<KEY>, the file or the default) on stdout."""
    from clapcli.core.config import entry

    typer.echo(entry(key).value)


@config_app.command("list", epilog=EPILOG)
def list_(
    fmt: Annotated[RecordFormat | None, typer.Option("--format", "-f", case_sensitive=False, callback=plain,
                                                     help="table, csv, json or jsonl. Default: table on a "
                                                     "terminal, csv when piped.", show_default=False)] = None,
) -> None:
    """Each setting, its value now and where it comes from (variable, config file or default)."""
    from clapcli.core.config import entries
    from clapcli.io.writers import default_record_format, record_writer
    from clapcli.settings.file import config_path

    fmt = default_record_format(fmt, None)
    with record_writer(fmt, None, False, ["key", "value", "source", "in_file"], title=str(config_path())) as sink:
        for found in entries():
            sink.write(found.to_dict())


@config_app.command("unset", epilog=EPILOG)
def unset(key: KeyArg, quiet: QuietOpt = False) -> None:
    """Remove KEY from the config file (its default applies again)."""
    from clapcli.console.output import Output
    from clapcli.core.config import unset as remove
    from clapcli.settings.file import config_path

    out = Output(quiet)
    if remove(key):
        out.note(f"{key} removed from {config_path()}")
    else:
        out.note(f"{key} is not set in {config_path()}; nothing changed")


@config_app.command("path", epilog=EPILOG)
def path() -> None:
    """Print the config file's path (CLAPCLI_CONFIG, else the platform's config folder)."""
    from clapcli.settings.file import config_path

    typer.echo(str(config_path()))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
