"""Glue shared by the commands: model loading from options, input collection, failure accounting."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from clapcli.console.output import Output, session_quiet
from clapcli.errors import InputError, InvalidField, PartialFailure, UsageError
from clapcli.results import FailedInput
from clapcli.text import plural


@dataclass
class ModelOptions:
    """The model flags of a command (``options.with_model_options``), as one value: ``load()`` makes the model."""

    model: str | None = None
    device: str | None = None
    dtype: str = "auto"
    quantize: str | None = None
    long_audio: str | None = None
    runtime: str | None = None
    precision: str | None = None

    @classmethod
    def from_flags(cls, **flags: Any) -> ModelOptions:
        """From the parsed flags (any subset of ``options.MODEL_FLAGS``; the others keep their defaults)."""
        return cls(**flags)

    def with_model(self, model: str | None) -> ModelOptions:
        """The same options for another checkpoint (``eval --model A --model B``, a library's own model)."""
        from dataclasses import replace

        return replace(self, model=model)

    def folded_precision(self) -> str | None:
        """--precision, or what 0.1's --dtype/--quantize spell (with their one-line deprecation note)."""
        from clapcli.console.output import session_quiet
        from clapcli.models.precision import legacy_precision

        precision, notes = legacy_precision(self.dtype, self.quantize, self.precision)
        for note in [] if session_quiet() else notes:
            Output().warning(note)
        return precision

    def load(self, job_size: int | None = None, quiet: bool = False) -> Any:
        """The model; ``job_size`` (inputs to encode, when known) lets the default runtime export it first
        when that pays, with a progress bar (silenced by ``quiet``)."""
        from clapcli.models.loading import load_embedding_model

        precision = self.folded_precision()
        try:
            with export_progress(Output(quiet or session_quiet())) as on_step:
                return load_embedding_model(self.model, self.device or "", "auto", None, self.long_audio,
                                            self.runtime, precision, job_size=job_size, on_export_step=on_step)
        except UsageError as exc:
            raise _name_the_variable(exc, self.device) from None


def probe_and_model(path: Any, model_options: ModelOptions, labels_given: Any) -> tuple[Any, ModelOptions]:
    """``--probe DIR``: the probe (None without it) and the model options with the probe's model. --labels,
    --labels-file or --template beside it are refused in one line; another --model is refused once loaded
    (``Probe.check_model``: another name for the same model passes)."""
    if path is None:
        return None, model_options
    from clapcli.core.probe.store import load_probe

    if labels_given:
        raise UsageError("--probe gives the labels (its classes) and their prompts; drop --labels, --labels-file "
                         "and --template")
    trained = load_probe(path)
    return trained, (model_options.with_model(trained.model_id) if model_options.model is None else model_options)


@contextmanager
def export_progress(out: Output) -> Iterator[Callable[[str], None]]:
    """A step callback that opens a progress bar at the first step of an export on first use (most loads
    export nothing and show nothing)."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        advances: list[Callable[[float], None]] = []

        def on_step(_label: str) -> None:
            if not advances:
                from clapcli.models.runtime.export import EXPORT_STEPS

                advances.append(stack.enter_context(out.progress(EXPORT_STEPS, "exporting once")))
            advances[0](1)

        yield on_step


def _name_the_variable(exc: UsageError, device: str | None) -> UsageError:
    """A device that came from $CLAPCLI_DEVICE or the config file, not --device: the message names it."""
    from clapcli.settings import lookup

    found, message = lookup("device"), str(exc)
    if device is not None or found is None or not (isinstance(exc, InvalidField) and exc.field == "device"):
        return exc
    reason = message.split(": ", 1)[1].split("; ", 1)[0] if ": " in message else message
    if found.variable:
        return UsageError(f"{found.describe()}: {reason}; set CLAPCLI_DEVICE=cpu (or auto), unset it, or pass "
                          "--device")
    return UsageError(f"{found.describe()}: {reason}; run 'clap config set device cpu' (or auto), "
                      f"{found.fix()}, or pass --device")


def count_inputs(inputs: list[str]) -> int | None:
    """How many media files ``inputs`` name (before the model, hence its modality, is known), for the
    default runtime's export decision; None when they come from stdin."""
    from clapcli.io.readers import expand_inputs
    from clapcli.media.kinds import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS

    if "-" in inputs:
        return None
    return sum(1 for _ in expand_inputs(inputs, AUDIO_EXTENSIONS | IMAGE_EXTENSIONS))


def collect_sources(inputs: list[str], modality: str) -> list:
    from clapcli.io.readers import expand_inputs
    from clapcli.media.kinds import extensions_for

    if inputs.count("-") > 1:
        raise UsageError("'-' (paths from stdin) can be given only once")
    stdin = None
    if "-" in inputs:
        data = _read_stdin()
        if _looks_binary(data):  # 'cat a.wav | clap classify -': the bytes are one audio input
            index = inputs.index("-")
            sources = list(expand_inputs(inputs[:index], extensions_for(modality)))
            sources.append(_stdin_media(data, modality))
            return sources + list(expand_inputs(inputs[index + 1:], extensions_for(modality)))
        stdin = _stdin_paths(data.decode("utf-8"))
    return list(expand_inputs(inputs, extensions_for(modality), stdin))


STDIN_NAME = "<stdin>"
_AUDIO_MAGIC = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b"caff", b".snd", b"\x1aE\xdf\xa3")


def _read_stdin() -> bytes:
    import sys

    stream = getattr(sys.stdin, "buffer", None)
    if stream is not None:
        return stream.read()
    return sys.stdin.read().encode("utf-8")


def _looks_binary(data: bytes) -> bool:
    """Audio bytes rather than a list of paths: a container's magic, NUL bytes, or not UTF-8."""
    head = data[:12]
    if head.startswith(_AUDIO_MAGIC) or head[4:8] == b"ftyp" or (len(head) > 1 and head[0] == 0xFF
                                                                   and head[1] & 0xE0 == 0xE0):
        return True
    if b"\x00" in data[:4096]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _stdin_media(data: bytes, modality: str) -> Any:
    """The bytes of stdin decoded as one input named ``<stdin>`` (or why they cannot be)."""
    from clapcli.audio.decode import load_audio
    from clapcli.core.pipeline import ArrayInput
    from clapcli.errors import ClapcliError

    if modality != "audio":
        return FailedInput(STDIN_NAME, "binary data on stdin is read as audio; pass image files by path")
    try:
        decoded = load_audio(data, None, name=STDIN_NAME)
    except ClapcliError as exc:
        return FailedInput(STDIN_NAME, str(exc).removeprefix(f"{STDIN_NAME}: "))
    return ArrayInput(STDIN_NAME, decoded.samples, decoded.sample_rate)


def _stdin_paths(text: str) -> Any:
    """The path list of ``-``, read whole; none at all is a usage error (``find`` matched nothing, a
    forgotten pipe), not a silent success."""
    import io

    from clapcli.io.readers import read_lines

    lines = list(read_lines(io.StringIO(text)))
    if not lines:
        raise UsageError("'-' reads paths from stdin, one per line, but stdin was empty; pipe a list in "
                         "(find . -name '*.wav' | clap embed -) or give files on the command line")
    return io.StringIO("\n".join(lines))


class FailureLog:
    """Names each failed input on stderr as it happens; ``finish`` prints the end-of-run summary
    (inputs, failed, seconds, throughput; not with --quiet) and raises ``PartialFailure`` (exit 3)
    when some inputs failed, or ``InputError`` (exit 1) when every one did (nothing was produced)."""

    def __init__(self, output: Output) -> None:
        self.output = output
        self.failed: list[FailedInput] = []
        self.started = time.monotonic()

    def add(self, failure: FailedInput) -> None:
        self.failed.append(failure)
        self.output.failed(failure.source, failure.reason)

    def finish(self, done: int, what: str, summary: bool = True) -> None:
        failed, total = len(self.failed), done + len(self.failed)
        if summary and not self.output.quiet:
            self.output.summary(self.summary_line(done, what))
        if failed and not done:
            raise InputError(f"every input failed ({plural(failed, 'input')}, each named above)")
        if failed:
            raise PartialFailure(f"{failed} of {plural(total, 'input')} failed")

    def summary_line(self, done: int, what: str) -> str:
        seconds = time.monotonic() - self.started
        failed = f", [red]{len(self.failed)} failed[/]" if self.failed else ""
        total = done + len(self.failed)
        rate = _rate(total, seconds) if seconds >= 0.5 and total else ""
        return f"{counted(done, what)}{failed} in {seconds:.1f} s{rate}"


def _rate(total: int, seconds: float) -> str:
    """Inputs per second, or seconds per input when slower than one a second (generation: 0.0 inputs/s
    said nothing)."""
    if total / seconds >= 1:
        return f", {total / seconds:.1f} inputs/s"
    return f", {seconds / total:.1f} s per input"


def counted(count: int, what: str) -> str:
    """``counted(1, "embeddings written")`` -> "1 embedding written" (the first word is the noun)."""
    noun, _, rest = what.partition(" ")
    if count == 1:
        noun = noun[:-3] + "y" if noun.endswith("ies") else noun.removesuffix("s")
    return f"{count} {noun} {rest}".rstrip()


@contextmanager
def kept_on_interrupt(describe: Callable[[], str]) -> Iterator[None]:
    """On Ctrl-C / SIGTERM, attach ``describe()`` (what was kept, how to go on) to the interruption;
    the CLI boundary prints it as one line ("interrupted: 14 of 40 rows written to out.parquet; ...")."""
    try:
        yield
    except KeyboardInterrupt as exc:
        try:
            exc.kept = describe()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - the interruption itself must go on
            pass
        raise


def kept_rows(writer: Any, total: int | None, what: str = "rows") -> str:
    """"14 of 40 rows written to out.parquet; rerun with --overwrite ..." for an interrupted writer."""
    name = writer.destination.name
    of = f" of {total}" if total is not None else ""
    if writer.count == 0:
        return f"nothing was written to {name} (no {what} were complete)"
    if writer.destination.file is None:
        return f"{writer.count}{of} {what} written to {name}"
    return f"{writer.count}{of} {what} written to {name}; rerun with --overwrite to redo all of them"
