"""Option types shared by the subcommands (one definition, same help everywhere)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from clapcli.console.guards import db_file
from clapcli.settings import DEFAULT_COLLECTION

MODEL_HELP = (
    "Hub id, alias (see 'clap models') or local directory. Default: $CLAPCLI_MODEL or laion/clap-htsat-unfused."
)

ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP, show_default=False)]
DEVICES = ("auto", "cpu", "cuda", "mps")


def _device(value: str | None) -> str | None:
    """--device is checked by the parser (exit 2, 'Invalid value'), like the enum options; only
    ``cuda:N`` keeps it from being one. Whether the device exists is checked when the model loads."""
    import re

    if value is None:
        return None
    name = value.strip().lower()
    if name not in DEVICES and not re.fullmatch(r"cuda:\d+", name):
        raise typer.BadParameter(f"{value!r} is not one of auto, cpu, cuda, cuda:N, mps.")
    return name


def _device_completion(incomplete: str) -> list[str]:
    return [name for name in (*DEVICES, "cuda:0", "cuda:1") if name.startswith(incomplete.lower())]


DeviceOpt = Annotated[
    str | None,
    typer.Option("--device", metavar="auto|cpu|cuda|cuda:N|mps", callback=_device,
                 autocompletion=_device_completion, help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N "
                 "or mps. Default: $CLAPCLI_DEVICE or auto.", show_default=False),
]
class Dtype(str, Enum):
    auto = "auto"
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"


class Quantize(str, Enum):
    int8 = "int8"


class LongAudio(str, Enum):
    mean = "mean"
    head = "head"
    center = "center"
    fusion = "fusion"


def _value(value: Enum | str | None) -> str | None:
    """Commands see the plain string ("float16"), as the library functions take it."""
    return value.value if isinstance(value, Enum) else value


def plain(value: Any) -> Any:
    """Callback of an enum option: the plain lower-case string (or list of them, or None)."""
    if isinstance(value, (list, tuple)):
        return [_value(item) for item in value]
    return _value(value)


def choices(name: str, values: tuple[str, ...]) -> Any:
    """A str Enum of ``values`` for an option that --help lists and the parser validates; declare the
    option with ``case_sensitive=False, callback=plain`` so commands still receive plain strings."""
    return Enum(name, {value: value for value in values}, type=str)


# The values the writers and core accept; kept literal here so --help does not import them
# (tests/test_cli_contract_more.py checks each against its source).
RECORD_FORMATS = ("table", "csv", "json", "jsonl")
EMBEDDING_FORMATS = ("jsonl", "json", "csv", "npy", "parquet", "safetensors")
EVENT_FORMATS = ("table", "csv", "json", "jsonl", "audacity", "raven", "webvtt")
EVAL_FORMATS = ("table", "csv", "json", "markdown", "md")
EXPORT_FORMATS = ("openvino", "onnx")
CONVERT_FORMATS = ("text", "json")
ENGINES = ("local", "ray")
SCHEDULERS = ("dpm", "dpm-sde", "ddim", "unipc", "euler", "euler-a", "heun", "lms", "pndm")
GENERATE_FORMATS = ("wav", "flac", "ogg", "json", "jsonl")

RecordFormat = choices("RecordFormat", RECORD_FORMATS)
EmbeddingFormat = choices("EmbeddingFormat", EMBEDDING_FORMATS)
EventFormat = choices("EventFormat", EVENT_FORMATS)
EvalFormat = choices("EvalFormat", EVAL_FORMATS)
ExportFormat = choices("ExportFormat", EXPORT_FORMATS)
ConvertFormat = choices("ConvertFormat", CONVERT_FORMATS)
Engine = choices("Engine", ENGINES)
Scheduler = choices("Scheduler", SCHEDULERS)


def comma_choices(allowed: tuple[str, ...], option: str) -> Any:
    """Callback of a repeatable, comma-separated option: each part must be one of ``allowed`` (any
    case); a wrong one is a usage error (exit 2) naming the choices. Returns the lower-case parts."""

    def check(values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        parts = [part.lower() for part in split_values(values)]
        wrong = [part for part in parts if part not in allowed]
        if wrong:
            raise typer.BadParameter(f"{wrong[0]!r} is not one of {', '.join(map(repr, allowed))}.",
                                     param_hint=f"'{option}'")
        return parts

    return check


GenerateDtypeOpt = Annotated[
    Dtype, typer.Option("--dtype", case_sensitive=False, callback=_value, help="auto: float16 on CUDA, float32 "
                        "elsewhere. On CPU, bfloat16 pays off only with AVX512-BF16/AMX; elsewhere it is "
                        "emulated and slower.")
]
# The embedding commands' --dtype and --quantize of 0.1: hidden, folded into --precision with a one-line
# deprecation note (clapcli.models.precision.legacy_precision), gone in the next release.
DtypeOpt = Annotated[Dtype, typer.Option("--dtype", case_sensitive=False, callback=_value, hidden=True,
                                         help="Deprecated: --precision.")]
QuantizeOpt = Annotated[Quantize | None, typer.Option("--quantize", case_sensitive=False, callback=_value,
                                                      hidden=True, help="Deprecated: --precision int8.",
                                                      show_default=False)]
LongAudioOpt = Annotated[
    LongAudio | None,
    typer.Option("--long-audio", case_sensitive=False, callback=_value, help="Audio longer than the model "
                 "window: mean (of consecutive windows), head, center or fusion (fused checkpoints). "
                 "Default: fusion for fused models, else mean.",
                 show_default=False),
]
RUNTIMES = ("auto", "torch", "openvino", "onnx")  # clapcli.models.runtime.RUNTIMES
Runtime = choices("Runtime", RUNTIMES)
RuntimeOpt = Annotated[
    Runtime | None,
    typer.Option("--runtime", case_sensitive=False, callback=plain, show_default=False, help=(
        "auto: the fastest installed here, said in one line (OpenVINO, else ONNX Runtime, else torch; ONNX "
        "Runtime for int8; torch on a GPU, for float16, or for a model without an export). An export directory "
        "('clap export') runs on its own runtime without torch; openvino/onnx/auto on a torch model exports it "
        "once into the cache. Default: the export's runtime, else torch.")),
]
PRECISIONS = ("exact", "fast", "bfloat16", "float16", "int8")  # clapcli.models.runtime.PRECISIONS
Precision = choices("Precision", PRECISIONS)
PrecisionOpt = Annotated[
    Precision | None,
    typer.Option("--precision", case_sensitive=False, callback=plain, show_default=False, help=(
        "exact: float32 (the default; on CUDA float16 unless given). fast: bfloat16 where the CPU has it natively "
        "(AVX512-BF16/AMX; openvino or torch), else float32, said in one line. bfloat16, float16 (GPU) and int8 "
        "(CPU: dynamic int8 of the linear layers, torch or onnx) force that type. Measured speed and agreement: "
        "benchmarks/README.md.")),
]
BatchSizeOpt = Annotated[
    int | None,
    typer.Option("--batch-size", min=1, help="Inputs per forward pass of the model: audio windows (a long file "
                 "is several), images or texts. Default: 4 on CPU, 32 on GPU.",
                 show_default=False),
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", min=1, help="Decoding threads. Default: CPU count (2-8).", show_default=False)
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to FILE (format from its extension) instead of stdout.",
                 show_default=False, dir_okay=False),
]
def _quiet(value: bool) -> bool:
    """--quiet takes effect at parse time, before any library is imported (their bars and logs too)."""
    if value:
        from clapcli.console.output import set_quiet

        set_quiet()
    return value


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", callback=_quiet, help="Only errors on stderr (one line "
                                        "per failed input, and fatal errors): no progress, notes, summary or "
                                        "library warnings.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing --output file.")]
InputsArg = Annotated[
    list[str] | None,
    typer.Argument(help="Files, directories (searched recursively), globs, or - to read paths from stdin.",
                   show_default=False),
]


LabelsOpt = Annotated[list[str] | None, typer.Option("--labels", "-l", help="Comma-separated labels; repeatable.",
                                                    show_default=False)]
LabelsFileOpt = Annotated[str | None, typer.Option("--labels-file", help="One label per line (- for stdin).",
                                                   show_default=False)]
ProbeOpt = Annotated[Path | None, typer.Option(
    "--probe", help="A probe from 'clap train': its classes are the labels and its model is used.",
    show_default=False, file_okay=False)]


def label_list(labels: list[str] | None, labels_file: str | None) -> list[str]:
    """--labels (repeatable, comma-separated) then the lines of --labels-file."""
    from clapcli.io.readers import read_text_file

    return split_values(labels) + (read_text_file(labels_file, "labels") if labels_file else [])


def split_values(values: list[str] | None) -> list[str]:
    """Repeatable, comma-separated option values -> flat list ("a,b" and -l a -l b both work)."""
    out: list[str] = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


# ---------------------------------------------------------------------- the model options, declared once

# parameter name -> (its Annotated option, its default), in the order --help lists them.
MODEL_FLAGS: dict[str, tuple[Any, Any]] = {
    "model": (ModelOpt, None),
    "device": (DeviceOpt, None),
    "dtype": (DtypeOpt, "auto"),
    "quantize": (QuantizeOpt, None),
    "long_audio": (LongAudioOpt, None),
    "runtime": (RuntimeOpt, None),
    "precision": (PrecisionOpt, None),
}
MODEL_OPTIONS_PARAM = "model_options"
FROM_FLAGS: Any = None  # the default of a command's ``model_options``: with_model_options puts the flags there


def with_model_options(*, exclude: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the model flags (``MODEL_FLAGS`` minus ``exclude``) from this one declaration.

    The command takes one parameter ``model_options: ModelOptions``; the parser sees the flags in its
    place (same names, help and defaults everywhere) and the command receives them as one
    ``commands.common.ModelOptions``. Excluded flags keep the dataclass default (``--quantize`` of
    ``retrieve``) or are declared by the command itself (``eval``'s repeatable ``--model``)."""
    import functools
    import inspect

    unknown = set(exclude) - set(MODEL_FLAGS)
    if unknown:
        raise ValueError(f"not model flags: {sorted(unknown)}")
    flags = [name for name in MODEL_FLAGS if name not in exclude]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command)
        namespace = getattr(command, "__globals__", {})
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name == MODEL_OPTIONS_PARAM:
                parameters += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=MODEL_FLAGS[name][1],
                                                 annotation=MODEL_FLAGS[name][0]) for name in flags]
                continue
            annotation = parameter.annotation
            if isinstance(annotation, str):  # ``from __future__ import annotations``: resolve it for the parser
                annotation = eval(annotation, namespace)  # noqa: S307 - the module's own annotation
            parameters.append(parameter.replace(annotation=annotation, kind=inspect.Parameter.KEYWORD_ONLY))
        if len(parameters) != len(signature.parameters) + len(flags) - 1:
            raise TypeError(f"{command.__name__} needs a parameter '{MODEL_OPTIONS_PARAM}: ModelOptions'")

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            from clapcli.console.common import ModelOptions

            given = {name: kwargs.pop(name) for name in flags}
            return command(**kwargs, **{MODEL_OPTIONS_PARAM: ModelOptions.from_flags(**given)})

        del wrapper.__wrapped__  # type: ignore[attr-defined]  # the parser reads the new signature, not the old
        wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper

    return decorate


# Library options shared by clap embed --db, retrieve, serve and library.
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Library database (SQLite). Default: library.db in clapcli's data folder "
                 "($CLAPCLI_HOME when set; see 'Where clapcli keeps files' in the README).",
                 show_default=False, dir_okay=False, callback=db_file),
]
CollectionOpt = Annotated[
    str | None,
    typer.Option("--collection", "-c", help=f"Collection in the library (one model each). Default: "
                 f"{DEFAULT_COLLECTION}.", show_default=False),
]
PruneOpt = Annotated[bool, typer.Option("--prune", help="With --db: drop rows of files that no longer exist.")]
