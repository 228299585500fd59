"""The ``clap`` Typer app: wires the subcommands and holds the one error boundary."""

from __future__ import annotations

import importlib
import signal

import click
import typer
from typer.core import TyperGroup

from clapcli import __version__, settings

# Each module defines ``register(app)``; none imports torch at module level (fast --help).
COMMAND_MODULES = [
    "clapcli.commands.classify",
    "clapcli.commands.convert",
    "clapcli.commands.detect",
    "clapcli.commands.embed",
    "clapcli.commands.export",
    "clapcli.commands.eval",
    "clapcli.commands.generate",
    "clapcli.commands.models",
    "clapcli.commands.retrieve",
    "clapcli.commands.serve",
]

class _ErrorBoundary(TyperGroup):
    """The one place where known failures become one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        from clapcli.errors import ClapcliError

        debug = settings.debug()
        try:
            return super().invoke(ctx)
        except (typer.Exit, click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except ClapcliError as exc:
            if debug and not exc.reported:
                raise
            if not exc.reported:
                _error_line(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            from clapcli.errors import EXIT_SIGINT, EXIT_SIGTERM, Terminated

            terminated = isinstance(exc, Terminated)
            _error_line("terminated" if terminated else "interrupted")
            raise typer.Exit(EXIT_SIGTERM if terminated else EXIT_SIGINT) from None
        except Exception as exc:
            if debug:
                raise
            _error_line(f"unexpected {type(exc).__name__}: {exc} (set CLAPCLI_DEBUG=1 for a traceback)")
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_ErrorBoundary,
    name="clap",
    help="Audio-text toolkit: embed, classify, retrieve and generate with CLAP-family models.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clapcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Audio-text toolkit. Exit codes: 0 ok, 1 error, 2 usage, 3 some inputs failed, 4 --expect not met."""
    from clapcli.commands.output import Output, route_warnings

    route_warnings(Output())


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    app()


def _on_sigterm(signum: int, frame: object) -> None:
    """Unwind like Ctrl-C (outputs keep their complete rows, temporary files go); a second SIGTERM
    during that clean-up is ignored so it can finish (a SIGKILL still ends it)."""
    from clapcli.errors import Terminated

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def _error_line(message: str) -> None:
    from clapcli.commands.output import Output

    Output().error(message)
