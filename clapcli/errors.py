"""Exceptions users can hit, each carrying its exit code and a one-line message.

The single error boundary in ``clapcli.cli.main`` turns these into a message on stderr;
core code raises them and never exits the process itself.
"""

from __future__ import annotations

from collections.abc import Callable

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_EXPECTATION = 4


class ClapcliError(Exception):
    """A failure with a message written for the user (one line, says what to do)."""

    exit_code = EXIT_ERROR
    reported = False  # True when the command already told the user (the boundary then only exits)


class UsageError(ClapcliError):
    """The command line itself is wrong (bad option value, missing argument)."""

    exit_code = EXIT_USAGE


class InvalidField(UsageError):
    """A field of a request (``clapcli.core``'s dataclasses) is wrong, named as Python callers spell it.

    ``InvalidField("top_k", "must be >= 1")`` reads "top_k: must be >= 1". A message naming several
    fields writes each as ``{name}``: ``InvalidField("nprobe", "{nprobe} goes with {approximate}")``;
    other values go in as keywords, so their braces are kept: ``InvalidField("template", "{template}
    {value!r} needs '{{}}'", value=text)``. The CLI boundary prints ``render(flag)`` instead, ``flag``
    mapping each field to its option ("--top-k: must be >= 1"), so the words of a command line stay
    at the command line."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        import string

        self.field = field
        self.values = values
        self.template = message if f"{{{field}}}" in message else f"{{{field}}}: {message}"
        names = (name for _, name, _, _ in string.Formatter().parse(self.template) if name)
        self.fields = tuple(dict.fromkeys(name for name in names if name not in values))
        super().__init__(self.render(lambda name: name))

    def render(self, name_of: Callable[[str], str]) -> str:
        """The message with each field named by ``name_of(field)``."""
        return self.template.format(**self.values, **{name: name_of(name) for name in self.fields})

    def __reduce__(self) -> tuple[Callable[..., InvalidField], tuple[object, ...], dict[str, object]]:
        """Pickled whole (a Ray actor's load error reaches the driver as this, not as a TypeError)."""
        return _invalid_field, (type(self), self.field, self.template, self.values), self.__dict__


def _invalid_field(cls: type[InvalidField], field: str, template: str, values: dict[str, object]) -> InvalidField:
    return cls(field, template, **values)


class ModelLoadError(ClapcliError):
    """The model could not be found, read or recognised."""


class InputError(ClapcliError):
    """One input (file, text) could not be used; others carry on."""


class OutputError(ClapcliError):
    """The output cannot be written (exists without --overwrite, unwritable...)."""


class ExpectationError(ClapcliError):
    """A CI expectation (--expect / --min-score) was not met."""

    exit_code = EXIT_EXPECTATION


class PartialFailure(ClapcliError):
    """Some inputs failed; the others were processed and written (each failure was named already)."""

    exit_code = EXIT_PARTIAL
    reported = True


class ClapcliWarning(UserWarning):
    """Something the user should know that does not stop the run; the CLI shows it as one line."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (timeout, Slurm, docker stop): unwinds like Ctrl-C, so what was computed is kept."""


EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class MissingDependencyError(ClapcliError):
    """An optional extra is needed; the message names the pip command."""


def missing_extra(package: str, extra: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"this needs the optional package '{package}': pip install 'clapcli[{extra}]'"
    )
