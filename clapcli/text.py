"""Text helpers every layer may use: safe display of untrusted names, first lines of exceptions."""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls: a file name holding them could split a message line or drive
# the terminal (ANSI escapes recolour it or set its title).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\n``, ``\\x1b``), safe on one line."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (its type name if it has none), cut to ``limit``."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[:limit] + "..."


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 input``, ``2 inputs`` (``many`` for irregular plurals)."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
