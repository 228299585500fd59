"""Commands stay thin (issue #25): parse flags, call core, write. No function in ``clapcli/commands`` is over
``MAX_LINES`` lines (signature and docstring included) or ``MAX_BRANCHES`` branches; the work goes to
``clapcli.core``, option declarations to module-level ``Annotated`` aliases."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMMANDS = Path(__file__).resolve().parents[1] / "clapcli" / "commands"
MAX_LINES = 60
MAX_BRANCHES = 12
BRANCHES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.IfExp, ast.BoolOp,
            ast.ExceptHandler)


def sizes(path: Path) -> list[tuple[str, int, int]]:
    """(name, lines, branches) of every function and method in ``path``; nested functions count in their
    enclosing function too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            branches = sum(isinstance(inner, BRANCHES) for inner in ast.walk(node))
            found.append((f"{path.stem}.{node.name}:{node.lineno}", lines, branches))
    return found


def test_the_commands_are_found() -> None:
    names = {path.stem for path in COMMANDS.glob("*.py")}
    assert {"classify", "detect", "embed", "eval", "generate", "retrieve"} <= names


@pytest.mark.parametrize("path", sorted(COMMANDS.glob("*.py")), ids=lambda path: path.name)
def test_no_long_command_function(path: Path) -> None:
    offenders = [f"{name}: {lines} lines, {branches} branches" for name, lines, branches in sizes(path)
                 if lines > MAX_LINES or branches > MAX_BRANCHES]
    assert not offenders, (f"over {MAX_LINES} lines or {MAX_BRANCHES} branches (move the work to clapcli.core, "
                           "options to Annotated aliases):\n  " + "\n  ".join(offenders))


def test_the_counter_counts() -> None:
    source = "def f(a):\n    if a and a > 1:\n        for x in a:\n            pass\n    return 1 if a else 2\n"
    tree = ast.parse(source)
    function = tree.body[0]
    assert sum(isinstance(node, BRANCHES) for node in ast.walk(function)) == 4  # if, and, for, ifexp
