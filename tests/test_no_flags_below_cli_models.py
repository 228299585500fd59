"""No command-line flag in what clapcli.models and clapcli.serve raise (issue #25): a wrong value names the
request field (``errors.InvalidField``) and the CLI boundary turns it into the flag. What must stay spelled
as a flag is listed below, each with its reason."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from clapcli.cli import cli_message
from clapcli.errors import InvalidField, UsageError

ROOT = Path(__file__).resolve().parents[1]
DIRECTORIES = ("clapcli/models", "clapcli/serve")
FLAG = re.compile(r"--[a-z][a-z0-9-]*")
EXCEPTION_NAME = re.compile(r"(Error|Field|Unavailable|NotCached|TooLong)$")

_EXIT_1 = ("a ModelLoadError/ClapcliError (exit 1): InvalidField is a UsageError (exit 2), so naming the field "
           "would change the exit code and what `except ModelLoadError` catches")
_EXPORT_AGAIN = "advice to run another command ('clap export ... --overwrite'), on a ModelLoadError (exit 1)"
_HTTP = "answered to an HTTP client as JSON (str(exc)): advice to the operator of 'clap serve' about its options"

# (file, flag) -> why it stays. A flag in a raise of a file not listed here fails the test.
ALLOWED = {
    ("clapcli/models/hub.py", "--model"): _EXIT_1,
    ("clapcli/models/hub.py", "--force"): "a command line of another command ('clap models alias add NAME DIR "
                                          "--force') for an alias the user made, exit 1",
    ("clapcli/models/audioldm2/__init__.py", "--model"): _EXIT_1,
    ("clapcli/models/audioldm2/__init__.py", "--cpu-offload"): "a MissingDependencyError (exit 1) naming the pip "
                                                                "command; InvalidField would exit 2",
    ("clapcli/models/conversion/on_first_use.py", "--tokenizer"): "a command line of another command "
                                                                  "('clap convert msclap ... --tokenizer'), exit 1",
    ("clapcli/models/conversion/on_first_use.py", "--model"): _EXIT_1,
    ("clapcli/models/conversion/recipes.py", "--amodel"): _EXIT_1 + " (the checkpoint is not the --amodel claimed)",
    ("clapcli/models/conversion/sa3_text.py", "--text-encoder"): "a command line of another command ('clap convert "
                                                                 "stable-audio-3 ... --text-encoder', also reached "
                                                                 "from clap generate's first-use conversion), exit 1",
    ("clapcli/models/conversion/tokenizer.py", "--tokenizer"): "TokenizerUnavailable is a ModelLoadError (exit 1); "
                                                               "on_first_use catches it by class",
    ("clapcli/models/runtime/exported.py", "--overwrite"): _EXPORT_AGAIN,
    ("clapcli/models/runtime/image.py", "--overwrite"): _EXPORT_AGAIN,
    ("clapcli/models/runtime/image.py", "--runtime"): _EXIT_1,
    ("clapcli/models/runtime/manifest.py", "--overwrite"): _EXPORT_AGAIN,
    ("clapcli/models/runtime/manifest.py", "--runtime"): _EXIT_1,
    ("clapcli/models/runtime/onnx_backend.py", "--overwrite"): _EXPORT_AGAIN,
    ("clapcli/models/runtime/onnx_backend.py", "--precision"): _EXIT_1,
    ("clapcli/models/runtime/openvino_backend.py", "--overwrite"): _EXPORT_AGAIN,
    ("clapcli/models/runtime/model.py", "--format"): "a command line of another command ('clap export ... "
                                                     "--format onnx'), not a field of the load",
    ("clapcli/models/written_dir.py", "--overwrite"): "an OutputError (exit 1) of clap convert/export; "
                                                      "InvalidField would exit 2",
    ("clapcli/serve/__init__.py", "--db"): "a command line of another command ('clap embed FILES --db LIBRARY'); "
                                           "the field itself is named {db}",
    ("clapcli/serve/engine.py", "--max-upload-seconds"): _HTTP,
    ("clapcli/serve/library.py", "--db"): _HTTP + " ('clap embed --db LIBRARY' to run)",
    ("clapcli/serve/library.py", "--prune"): _HTTP + " ('clap embed --db LIBRARY --prune' to run)",
    ("clapcli/serve/library.py", "--approximate"): _HTTP + " (also at a refresh while serving)",
}


def _callee(call: ast.Call) -> str:
    return getattr(call.func, "id", None) or getattr(call.func, "attr", "")


def _raised(tree: ast.AST) -> list[ast.AST]:
    """What a module raises: ``raise`` statements, and exceptions built to be raised elsewhere."""
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            found.append(node.exc)
        elif isinstance(node, ast.Call) and EXCEPTION_NAME.search(_callee(node)):
            found.append(node)
    return found


def flags_raised() -> dict[tuple[str, str], list[int]]:
    """(file, flag) -> the lines of the raises whose string literals spell it."""
    out: dict[tuple[str, str], list[int]] = {}
    for directory in DIRECTORIES:
        for path in sorted((ROOT / directory).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            for raised in _raised(ast.parse(path.read_text(encoding="utf-8"))):
                for node in ast.walk(raised):
                    if isinstance(node, ast.Constant) and isinstance(node.value, str):
                        for flag in FLAG.findall(node.value):
                            lines = out.setdefault((name, flag), [])
                            if raised.lineno not in lines:
                                lines.append(raised.lineno)
    return out


def test_no_flag_in_what_models_and_serve_raise() -> None:
    found = flags_raised()
    unexpected = {f"{name}:{lines} {flag}" for (name, flag), lines in found.items() if (name, flag) not in ALLOWED}
    assert not unexpected, "raise InvalidField naming the field (clapcli.errors), or allow-list with a reason"
    stale = set(ALLOWED) - set(found)
    assert not stale, f"allowed but no longer raised; drop from ALLOWED: {stale}"


def test_the_scan_sees_flags() -> None:
    tree = ast.parse('raise UsageError(f"--device {d}: no")\nerror = OutputError("add --overwrite")\n'
                     'raise InvalidField("device", "{device} cpu")\n')
    constants = [node.value for raised in _raised(tree) for node in ast.walk(raised)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert {flag for text in constants for flag in FLAG.findall(text)} == {"--device", "--overwrite"}


def test_load_request_names_fields_and_the_cli_names_flags() -> None:
    from clapcli.models.request import LoadRequest

    with pytest.raises(InvalidField) as caught:
        LoadRequest(precision="int4")
    assert str(caught.value).startswith("precision 'int4': choose one of exact, fast")
    assert cli_message(caught.value).startswith("--precision 'int4': choose one of exact, fast")
    with pytest.raises(InvalidField) as caught:
        LoadRequest(long_audio="{x}")
    assert str(caught.value) == "long_audio '{x}': choose one of mean, head, center, fusion"
    assert cli_message(caught.value) == "--long-audio '{x}': choose one of mean, head, center, fusion"


def test_precision_advice_names_the_runtime_field() -> None:
    from clapcli.models.precision import choose, legacy_precision

    with pytest.raises(InvalidField) as caught:
        choose("int8", "openvino")
    assert "(runtime onnx)" in str(caught.value) and "--" not in str(caught.value)
    assert cli_message(caught.value).startswith("--precision int8 runs on torch or ONNX Runtime (--runtime onnx)")
    with pytest.raises(InvalidField) as caught:
        legacy_precision("float32", "int8", "fast")
    assert str(caught.value) == ("dtype float32 quantize int8 and precision fast disagree; pass precision only "
                                 "(dtype float32 quantize int8 is its old spelling)")
    assert cli_message(caught.value) == ("--dtype float32 --quantize int8 and --precision fast disagree; pass "
                                         "--precision only (--dtype float32 --quantize int8 is its old spelling)")
    assert legacy_precision("bfloat16", None, None)[1] == [
        "--dtype bfloat16 is now --precision bfloat16; the old option goes in the next release"]


def test_device_errors_name_the_field() -> None:
    from clapcli.models.device import resolve_device

    with pytest.raises(InvalidField) as caught:
        resolve_device("tpu")
    assert caught.value.field == "device" and str(caught.value).startswith("device 'tpu' is not a device")
    assert cli_message(caught.value).startswith("--device 'tpu' is not a device; choose one of: auto")


def test_serve_options_name_fields_with_their_flags(tmp_path: Path) -> None:
    from clapcli.serve import ServeOptions, check_options

    cases = [
        ({"upload_limit_mb": 0}, "upload_limit_mb must be above 0", "--max-upload-mb must be above 0"),
        ({"host": "0.0.0.0", "no_auth": True},
         "host 0.0.0.0 no_auth: give the names clients use with allow_hosts NAME",
         "--host 0.0.0.0 --no-auth: give the names clients use with --allow-host NAME"),
        ({"port": 70000}, "port 70000 is not a TCP port (0-65535)", "--port 70000 is not a TCP port (0-65535)"),
    ]
    for options, python, cli in cases:
        with pytest.raises(UsageError) as caught:
            check_options(ServeOptions(tmp_path / "x.db", **options))
        assert str(caught.value).startswith(python) and cli_message(caught.value).startswith(cli)


def test_an_invalid_field_survives_pickling() -> None:
    """Ray actors load models too: their InvalidField crosses processes pickled."""
    import pickle

    error = InvalidField("device", "{device} {value}: CUDA is not available; use {device} cpu", value="cuda:{1}")
    error.reported = True
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is InvalidField and str(copy) == str(error) and copy.reported
    assert cli_message(copy) == "--device cuda:{1}: CUDA is not available; use --device cpu"
