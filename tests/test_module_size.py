"""Modules stay small enough to read in one sitting: one over 300 lines says in its docstring why it is
one piece (a sentence starting "One piece"), so growth is a decision, not an accident."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "clapcli"
LIMIT = 300


def test_long_modules_say_why_they_are_one_piece() -> None:
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= LIMIT:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if "One piece" not in docstring:
            unexplained.append(f"{path.relative_to(PACKAGE.parent)} ({text.count(chr(10))} lines)")
    assert unexplained == [], "over 300 lines without a 'One piece' reason: " + ", ".join(unexplained)
