"""The ``clap`` Typer app: wires the subcommands and holds the one error boundary."""

from __future__ import annotations

import errno
import importlib
import logging
import os
import signal
import sys

import click
import typer
from typer.core import TyperGroup

from clapcli import settings
from clapcli.version import __version__

# Each module defines ``register(app)``; none imports torch at module level (fast --help).
COMMAND_MODULES = [
    "clapcli.commands.cache",
    "clapcli.commands.classify",
    "clapcli.commands.config",
    "clapcli.commands.convert",
    "clapcli.commands.dedupe",
    "clapcli.commands.detect",
    "clapcli.commands.download",
    "clapcli.commands.embed",
    "clapcli.commands.eval",
    "clapcli.commands.export",
    "clapcli.commands.generate",
    "clapcli.commands.library",
    "clapcli.commands.map",
    "clapcli.commands.models",
    "clapcli.commands.retrieve",
    "clapcli.commands.serve",
    "clapcli.commands.tag",
    "clapcli.commands.train",
]

def _parser_classes(name: str) -> tuple[type[BaseException], ...]:
    """``name`` (ClickException, Exit, Abort) from click and from the copy of click that recent typer
    versions vendor (typer._click): the parser raises the vendored ones (docs/design.md §3)."""
    modules = [click.exceptions, getattr(getattr(typer, "_click", None), "exceptions", None), typer]
    return tuple({getattr(m, name) for m in modules if m is not None and hasattr(m, name)})


CLICK_ERRORS = _parser_classes("ClickException")  # usage errors: exit 2 with the parser's message
PARSER_EXITS = _parser_classes("Exit") + _parser_classes("Abort")

# A closed stdout (``| head``) ends the run quietly with this code, as if it had finished: the reader
# has what it wanted, and ``set -o pipefail`` scripts go on (141, 128 + SIGPIPE, would fail them).
EXIT_PIPE_CLOSED = 0


class _ErrorBoundary(TyperGroup):
    """The one place where known failures become one line on stderr and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001
        """Usage errors as click prints them (plain text, never hard-wrapped, "Try 'clap X --help'"),
        exit 2; a closed stdout ends quietly (``EXIT_PIPE_CLOSED``)."""
        _rich_raises_broken_pipe()
        args = _old_spellings(list(sys.argv[1:] if args is None else args))
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except CLICK_ERRORS as exc:
            code = _show_usage_error(exc)
        except PARSER_EXITS as exc:
            code = getattr(exc, "exit_code", 1)
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            code = _pipe_closed()
        sys.exit(code if isinstance(code, int) else 0)

    def make_context(self, *args, **kwargs):  # noqa: ANN002, ANN003 - click's signature
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:  # 'clap --help | head -1'
            raise typer.Exit(_pipe_closed()) from None

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        from clapcli.errors import ClapcliError

        debug = settings.debug()
        try:
            return super().invoke(ctx)
        except CLICK_ERRORS + PARSER_EXITS:
            raise
        except BrokenPipeError:
            raise typer.Exit(_pipe_closed()) from None
        except ClapcliError as exc:
            if debug and not exc.reported:
                raise
            if not exc.reported:
                _error_line(cli_message(exc))  # one line, ours (the parser's own usage errors come with "Try ...")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            from clapcli.errors import EXIT_SIGINT, EXIT_SIGTERM, Terminated

            terminated = isinstance(exc, Terminated)
            what = "terminated" if terminated else "interrupted"
            kept = getattr(exc, "kept", None)  # set by the command: what was written, how to resume
            _error_line(f"{what}: {kept}" if kept else what)
            raise typer.Exit(EXIT_SIGTERM if terminated else EXIT_SIGINT) from None
        except Exception as exc:
            if debug:
                raise
            extra = extra_for_module(getattr(exc, "name", None) or "") if isinstance(exc, ImportError) else None
            if extra is not None:
                from clapcli.errors import missing_extra

                _error_line(str(missing_extra(EXTRA_MODULES[exc.name.split(".")[0]][0], extra)))  # type: ignore[union-attr]
                raise typer.Exit(1) from None
            _error_line(f"unexpected {type(exc).__name__}: {exc} (set CLAPCLI_DEBUG=1 for a traceback)")
            raise typer.Exit(1) from None


# Top-level modules of the optional extras (pyproject.toml) -> (package to name, extra): a command that
# imports one without its extra installed ends with the pip command, not "No module named 'uvicorn'".
EXTRA_MODULES = {
    "fastapi": ("fastapi", "serve"), "uvicorn": ("uvicorn", "serve"), "multipart": ("python-multipart", "serve"),
    "python_multipart": ("python-multipart", "serve"), "faiss": ("faiss-cpu", "faiss"), "ray": ("ray", "ray"),
    "phonemizer": ("phonemizer", "tts"), "onnx": ("onnx", "onnx"), "onnxruntime": ("onnxruntime", "onnx"),
    "openvino": ("openvino", "openvino"), "sed_eval": ("sed_eval", "eval"),
    "dcase_util": ("sed_eval", "eval"), "matplotlib": ("matplotlib", "plot"),
    "umap": ("umap-learn", "map"), "sklearn": ("scikit-learn", "train"),  # also in the map extra
}


def extra_for_module(name: str) -> str | None:
    """The extra that installs module ``name`` (dotted names by their top level), or None."""
    entry = EXTRA_MODULES.get(name.split(".")[0])
    return entry[1] if entry else None


# A request field (clapcli.core) -> the option that sets it, where the option is not "--" + the field with
# dashes (top_k -> --top-k). The one place where core's field names become flags.
FIELD_FLAGS = {
    "captions": "--captions-file",
    "fmt": "--format",
    # models and serve (issue #25): LoadRequest.name, ServeOptions' fields
    "name": "--model",
    "upload_limit_mb": "--max-upload-mb",
    "allow_hosts": "--allow-host",
}


def flag_of(field: str) -> str:
    """The command-line option of a request field: ``top_k`` -> ``--top-k``."""
    if field.startswith("-"):  # already an option (a caller that names its own)
        return field
    return FIELD_FLAGS.get(field) or "--" + field.replace("_", "-")


def cli_message(exc: BaseException) -> str:
    """The line users read: an ``InvalidField`` names flags (Python callers read the field names)."""
    from clapcli.errors import InvalidField

    return exc.render(flag_of) if isinstance(exc, InvalidField) else str(exc)


def _old_spellings(args: list[str]) -> list[str]:
    """Spellings of 0.1 that the parser cannot take any more, rewritten with a deprecation warning."""
    from clapcli.commands.retrieve import legacy_text_flag
    from clapcli.console.output import reset_session

    reset_session()  # this invocation's --quiet is not parsed yet
    args, changed = legacy_text_flag(args)
    if changed and not {"--quiet", "-q"} & set(args):
        _warning_line("a bare 'retrieve --text' is now --as-text (every query is text); --text takes a query, "
                      "as in 'clap embed'. The old spelling goes in the next release")
    return args


def _show_usage_error(exc: BaseException) -> int:
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare 'clap': typer has printed the help already
        return int(getattr(exc, "exit_code", 2))
    try:
        exc.show()  # type: ignore[attr-defined]
    except OSError:
        pass  # stderr closed too: nothing more to say
    return int(getattr(exc, "exit_code", 2))


def _rich_raises_broken_pipe() -> None:
    """rich answers a closed pipe with ``SystemExit(1)`` (help, tables); let it raise
    ``BrokenPipeError`` instead, so that ``| head`` ends like any other closed pipe here."""
    from rich.console import Console

    def on_broken_pipe(self: Console) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    Console.on_broken_pipe = on_broken_pipe  # type: ignore[method-assign]


def _pipe_closed() -> int:
    """The reader of stdout went away: say nothing more (stdout and stderr to /dev/null, so the
    interpreter's last flush cannot complain either) and end with ``EXIT_PIPE_CLOSED``."""
    for stream in (sys.stdout, sys.stderr):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass  # not a real file (tests): nothing will be flushed to a closed pipe
    return EXIT_PIPE_CLOSED


app = typer.Typer(
    cls=_ErrorBoundary,
    name="clap",
    help="Audio-text toolkit: embed, classify, retrieve and generate with CLAP-family models.",
    no_args_is_help=True,
    epilog="Exit codes: 0 ok (also when a reader such as '| head' closes stdout early) · 1 error, or every input "
           "failed · 2 usage · 3 some inputs failed · 4 --expect not met · 130 Ctrl-C · 143 SIGTERM. "
           "Completion: clap --install-completion.",
    add_completion=True,
    context_settings={"help_option_names": ["--help", "-h"]},
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
    """Audio-text toolkit. Exit codes: 0 ok (also when a reader such as '| head' closes stdout early),
    1 error (or every input failed), 2 usage, 3 some inputs failed, 4 --expect not met, 130 Ctrl-C,
    143 SIGTERM."""
    from clapcli.console.output import Output, quiet_libraries_off_terminal, reset_session, route_warnings

    reset_session()
    quiet_libraries_off_terminal()
    route_warnings(Output())


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    """Console-script entry point."""
    from clapcli.console.native_stderr import folded_native_stderr

    signal.signal(signal.SIGTERM, _on_sigterm)
    # Our records are shown by the Output handler; a library's logging.basicConfig() (onnxruntime's
    # quantizer calls it) would print them a second time, raw ("INFO:clapcli.models...").
    logging.getLogger("clapcli").propagate = False
    with folded_native_stderr(_warning_line):
        app()


def _on_sigterm(signum: int, frame: object) -> None:
    """Unwind like Ctrl-C (outputs keep their complete rows, temporary files go); a second SIGTERM
    during that clean-up is ignored so it can finish (a SIGKILL still ends it)."""
    from clapcli.errors import Terminated

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def _warning_line(message: str) -> None:
    from clapcli.console.output import Output

    Output().warning(message)  # nothing with --quiet


def _error_line(message: str) -> None:
    from clapcli.console.output import Output

    Output().error(message)
