"""A command whose optional extra is not installed says which extra to install, in one line (issue 23
item 14): the module is hidden in a real process (``sys.modules[name] = None`` before the CLI runs)."""

from __future__ import annotations

import subprocess
import sys


def _clap_without(module: str, *args: str) -> subprocess.CompletedProcess:
    code = (f"import sys\nsys.modules[{module!r}] = None\nfrom clapcli.cli import main\n"
            f"sys.argv = ['clap', *{list(args)!r}]\nmain()")
    return subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120)


def test_serve_without_uvicorn_names_the_extra(tmp_path):
    db = tmp_path / "lib.db"
    result = _clap_without("uvicorn", "serve", "--db", str(db))
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == ("error: this needs the optional package 'uvicorn': pip install "
                                     "'clapcli[serve]'")


def test_the_extra_map_knows_the_usual_modules():
    from clapcli.cli import extra_for_module

    assert extra_for_module("uvicorn") == "serve" and extra_for_module("fastapi.routing") == "serve"
    assert extra_for_module("no_such_thing") is None


def test_a_clapcli_note_is_not_printed_raw_beside_ours():
    # onnxruntime's quantizer calls logging.basicConfig(): the note came out twice, once as
    # "INFO:clapcli.models.runtime.onnx_backend:quantizing ..."
    code = ("import logging, sys\nlogging.basicConfig()\nimport clapcli.console.output as output\n"
            "route = output.route_warnings\n"
            "def routed(out):\n    route(out)\n"
            "    logging.getLogger('clapcli.models.runtime.onnx_backend').info('quantizing a to int8 once')\n"
            "output.route_warnings = routed\nfrom clapcli.cli import main\nsys.argv = ['clap', 'models']\nmain()")
    result = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == "quantizing a to int8 once"
    assert "INFO:" not in result.stderr
